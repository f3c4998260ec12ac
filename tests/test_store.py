"""The SQLite store: created private, WAL, migrated forward, a faithful price cache."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.core.errors import StoreError
from bot.core.store import MIGRATIONS, Store, format_ts, parse_ts

NOW = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)


def _series(*pairs: tuple[str, float]) -> pd.Series:
    index = pd.DatetimeIndex([pd.Timestamp(ts, tz="UTC") for ts, _ in pairs])
    return pd.Series([value for _, value in pairs], index=index, dtype="float64")


def test_new_store_is_owner_only(tmp_path: Path) -> None:
    """The file holds chat ids, so nobody but its owner may read it."""
    path = tmp_path / "sub" / "corrbot.sqlite3"
    Store.open(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_store_uses_wal(tmp_path: Path) -> None:
    """WAL lets readers (chat commands) run while the daily job writes."""
    with Store.open(tmp_path / "s.db") as store:
        mode = store._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_new_store_is_at_the_latest_schema(tmp_path: Path) -> None:
    """Opening applies every migration."""
    with Store.open(tmp_path / "s.db") as store:
        assert store.schema_version == len(MIGRATIONS)


def test_reopening_keeps_data_and_schema(tmp_path: Path) -> None:
    """Migrations run once; data survives a restart."""
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        store.set_meta("k", "v")
    with Store.open(path) as store:
        assert store.get_meta("k") == "v"
        assert store.schema_version == len(MIGRATIONS)


def test_migration_from_an_older_version_is_applied(tmp_path: Path) -> None:
    """A file at version 0 (empty) is brought forward."""
    path = tmp_path / "s.db"
    sqlite3.connect(path).close()
    with Store.open(path) as store:
        assert {"prices", "fetch_log", "price_gaps", "meta"} <= {
            row[0] for row in store._conn.execute("SELECT name FROM sqlite_master")
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


def test_prices_round_trip(tmp_path: Path) -> None:
    """Closes come back at the same UTC instants with the same values."""
    closes = _series(("2024-12-02T21:00", 100.5), ("2024-12-03T21:00", 101.25))
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_prices("BTC", closes, source="ccxt:kraken", fetched_at=NOW)
        loaded = store.load_prices("BTC")
    expected = closes.set_axis(closes.index.as_unit("ns"))  # the calendar's unit: cheap joins
    pd.testing.assert_series_equal(loaded, expected, check_names=False, check_freq=False)
    assert str(loaded.index.tz) == "UTC"


def test_revised_close_overwrites(tmp_path: Path) -> None:
    """Fetching a session again replaces its close (revisions win) and its source."""
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_prices(
            "PSCT", _series(("2024-12-03T21:00", 50.0)), source="csv", fetched_at=NOW
        )
        store.upsert_prices(
            "PSCT", _series(("2024-12-03T21:00", 50.5)), source="yfinance", fetched_at=NOW
        )
        assert store.load_prices("PSCT").tolist() == [50.5]
        assert store.price_sources("PSCT") == ["yfinance"]


def test_not_a_number_is_kept_as_a_hole(tmp_path: Path) -> None:
    """A NaN close is stored (as NULL) so the quality checks can flag it."""
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_prices(
            "BTC", _series(("2024-12-03T21:00", np.nan)), source="csv", fetched_at=NOW
        )
        loaded = store.load_prices("BTC")
    assert len(loaded) == 1
    assert np.isnan(loaded.iloc[0])


def test_load_since_filters_older_rows(tmp_path: Path) -> None:
    """Only observations at or after ``since`` are loaded."""
    closes = _series(("2024-12-02T21:00", 1.0), ("2024-12-03T21:00", 2.0))
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_prices("BTC", closes, source="csv", fetched_at=NOW)
        assert store.load_prices("BTC", since=datetime(2024, 12, 3, tzinfo=UTC)).tolist() == [2.0]


def test_failed_fetch_keeps_last_success_time(tmp_path: Path) -> None:
    """A failure is recorded without forgetting when the symbol last refreshed fine."""
    later = datetime(2024, 12, 4, 22, 0, tzinfo=UTC)
    with Store.open(tmp_path / "s.db") as store:
        store.record_fetch("BTC", source="ccxt", attempted_at=NOW, error=None)
        store.record_fetch("BTC", source="ccxt", attempted_at=later, error="all exchanges down")
        record = store.fetch_records()["BTC"]
    assert record.succeeded_at == pd.Timestamp(NOW)
    assert record.attempted_at == pd.Timestamp(later)
    assert record.error == "all exchanges down"


def test_failed_transaction_writes_nothing(tmp_path: Path) -> None:
    """A transaction that raises leaves no partial write behind."""
    with Store.open(tmp_path / "s.db") as store:

        def write_then_fail() -> None:
            with store.transaction() as conn:
                conn.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            write_then_fail()
        assert store.get_meta("a") is None


def test_locked_store_is_a_clear_error(tmp_path: Path) -> None:
    """When another process holds the write lock, the error says the store is busy."""
    path = tmp_path / "s.db"
    with Store.open(path) as store:
        other = sqlite3.connect(path, timeout=0.1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        store._conn.execute("PRAGMA busy_timeout = 100")
        try:
            with pytest.raises(StoreError, match="busy or locked"):
                store.set_meta("k", "v")
        finally:
            other.execute("ROLLBACK")
            other.close()


def test_prune_forgets_old_prices_and_gaps(tmp_path: Path) -> None:
    """Prices older than the kept window are removed."""
    closes = _series(("2020-01-02T21:00", 1.0), ("2024-12-03T21:00", 2.0))
    with Store.open(tmp_path / "s.db") as store:
        store.upsert_prices("BTC", closes, source="csv", fetched_at=NOW)
        store.record_gaps("BTC", [pd.Timestamp("2020-01-03T21:00", tz="UTC")], checked_at=NOW)
        assert store.prune_before("BTC", datetime(2024, 1, 1, tzinfo=UTC)) == 1
        assert store.load_prices("BTC").tolist() == [2.0]
        assert len(store.known_gaps("BTC")) == 0


def test_timestamps_are_utc_text() -> None:
    """Instants are stored as sortable UTC ISO text and read back equal."""
    stamp = pd.Timestamp("2024-07-03 13:00", tz="America/New_York")
    assert format_ts(stamp) == "2024-07-03T17:00:00Z"
    assert parse_ts(format_ts(stamp)) == stamp
