"""The store's file: created private, WAL, migrated forward, refused when not ours, atomic."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.errors import StoreError
from bot.core.store import Store
from bot.core.store.migrations import MIGRATIONS

NOW = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)


def test_new_store_is_owner_only(tmp_path: Path) -> None:
    """The file holds chat ids, so nobody but its owner may read it."""
    path = tmp_path / "sub" / "corrbot.sqlite3"
    Store.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_store_uses_wal(tmp_path: Path) -> None:
    """WAL lets readers (chat commands) run while the daily job writes."""
    with Store.open(tmp_path / "s.db") as store:
        mode = store.database._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_new_store_is_at_the_latest_schema(tmp_path: Path) -> None:
    """Opening applies every migration."""
    with Store.open(tmp_path / "s.db") as store:
        assert store.database.schema_version == len(MIGRATIONS)


def test_reopening_keeps_data_and_schema(tmp_path: Path) -> None:
    """Migrations run once; data survives a restart."""
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        store.meta.beat(NOW)
    with Store.open(path) as store:
        assert store.meta.heartbeat() == NOW
        assert store.database.schema_version == len(MIGRATIONS)


def test_migration_from_an_older_version_is_applied(tmp_path: Path) -> None:
    """A file at version 0 (empty) is brought forward."""
    path = tmp_path / "s.db"
    sqlite3.connect(path).close()
    with Store.open(path) as store:
        assert {"prices", "fetch_log", "price_gaps", "meta"} <= {
            row[0] for row in store.database._conn.execute("SELECT name FROM sqlite_master")
        }


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A store written by a newer corrbot is not touched by an older one."""
    path = tmp_path / "s.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this corrbot understands"):
        Store.open(path)


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    """A file that is not a database says so and how to recover."""
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"unreadable.*move it aside"):
        Store.open(path)


def test_failed_transaction_writes_nothing(tmp_path: Path) -> None:
    """A transaction that raises leaves no partial write behind."""
    with Store.open(tmp_path / "s.db") as store:

        def write_then_fail() -> None:
            with store.transaction() as conn:
                conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            write_then_fail()
        assert store.query("SELECT value FROM meta WHERE key = 'a'") == []


def test_locked_store_is_a_clear_error(tmp_path: Path) -> None:
    """When another process holds the write lock, the error says the store is busy."""
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        store.database._conn.execute("PRAGMA busy_timeout = 100")
        try:
            with pytest.raises(StoreError, match="busy or locked"):
                store.meta.beat(NOW)
        finally:
            other.execute("ROLLBACK")
            other.close()
