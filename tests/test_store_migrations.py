"""The schema's migrations: an older store is brought forward in place, keeping its rows."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bot.core.models import Pair
from bot.core.store import Store, format_ts
from bot.core.store.migrations import MIGRATIONS

NOW = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)
PAIR = Pair("BTC", "PSCT")


def _schema_at(path: Path, version: int) -> sqlite3.Connection:
    """A store file at schema ``version``, as that version of corrbot created it."""
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:version]:
        for statement in (s.strip() for s in script.split(";")):
            if statement:
                conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version:d}")
    return conn


def _version_3_store(path: Path) -> None:
    """A store as corrbot left it before episodes: schema 3, alerts of each old kind, sent."""
    conn = _schema_at(path, 3)
    stamp = format_ts(NOW)
    conn.execute("INSERT INTO chats (chat_id, kind, updated_at) VALUES (5, 'private', ?)", (stamp,))
    old = [  # kind, session, corr, prev_corr, z, regime_from, regime_to
        ("spike", "2024-08-05", 0.62, 0.18, 3.4, None, None),
        ("decoupling", "2024-09-10", 0.05, 0.55, -3.1, None, None),
        ("regime", "2024-10-01", 0.31, 0.62, None, "coupled", "linked"),
    ]
    for kind, session, corr, prev, z, r_from, r_to in old:
        key = f"{kind}:BTC~PSCT:30:{session}"
        cursor = conn.execute(
            "INSERT INTO alerts (key, kind, crypto, equity, window_len, session, corr, "
            "prev_corr, z, regime_from, regime_to, message, created_at) "
            "VALUES (?, ?, 'BTC', 'PSCT', 30, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, kind, session, corr, prev, z, r_from, r_to, f"old {kind}", stamp),
        )
        outbound = conn.execute(
            "INSERT INTO outbound (key, kind, alert_id, payload, created_at) "
            "VALUES (?, ?, ?, '{}', ?)",
            (key, kind, cursor.lastrowid, stamp),
        )
        conn.execute(
            "INSERT INTO deliveries (outbound_id, chat_id, status, next_attempt_at, "
            "message_id, created_at, sent_at) VALUES (?, 5, 'sent', ?, 40, ?, ?)",
            (outbound.lastrowid, stamp, stamp, stamp),
        )
    conn.close()


def test_migration_4_upgrades_a_version_3_store_keeping_its_rows(tmp_path: Path) -> None:
    """Episodes' columns are added; old alerts stay, each an opening that notified."""
    path = tmp_path / "s.db"
    _version_3_store(path)
    with Store.open(path) as store:
        version = store.database.schema_version
        stored = store.alerts.recent(10)
        outbound = store.query("SELECT key, reply_to FROM outbound ORDER BY id")
        deliveries = store.query("SELECT chat_id, status, message_id FROM deliveries")
    assert version == len(MIGRATIONS) >= 4
    assert [s.alert.kind.value for s in stored] == ["regime", "decoupling", "spike"]
    regime, decoupling, spike = (s.alert for s in stored)
    assert (spike.corr, spike.prev_corr, spike.z) == (0.62, 0.18, 3.4)
    assert (regime.regime_from, regime.regime_to) == ("coupled", "linked")
    assert [a.direction for a in (spike, decoupling, regime)] == ["up", "down", "down"]
    for alert in (spike, decoupling, regime):
        assert alert.notify
        assert alert.episode is None
        assert alert.opens_episode
        assert np.isnan(alert.lower)
        assert np.isnan(alert.upper)
    assert [str(row[0]) for row in outbound] == [s.alert.key for s in reversed(stored)]
    assert [row[1] for row in outbound] == [None, None, None]
    assert deliveries == [(5, "sent", 40)] * 3


def test_migration_5_adds_the_reopening_to_existing_engine_states(tmp_path: Path) -> None:
    """A version 4 store keeps its engine states, none of them re-opened."""
    path = tmp_path / "s.db"
    conn = _schema_at(path, 4)
    conn.execute(
        "INSERT INTO engine_state (crypto, equity, window_len, state, updated_at) "
        "VALUES ('BTC', 'PSCT', 30, '{}', ?)",
        (format_ts(NOW),),
    )
    conn.close()
    with Store.open(path) as store:
        assert store.database.schema_version == len(MIGRATIONS) >= 5
        assert set(store.alerts.engine_states(30)) == {PAIR}
        assert store.alerts.reopenings(30) == {}


def test_migration_6_drops_the_unread_message_text_and_keeps_the_alerts(tmp_path: Path) -> None:
    """A version 5 store loses only the plain-text column: alerts and deliveries stay."""
    path = tmp_path / "s.db"
    _version_3_store(path)
    with Store.open(path) as store:
        store.database._conn.execute("ALTER TABLE alerts ADD COLUMN message TEXT")
        store.database._conn.execute("PRAGMA user_version = 5")
    with Store.open(path) as store:
        columns = {str(row[1]) for row in store.query("PRAGMA table_info(alerts)")}
        kinds = [s.alert.kind.value for s in store.alerts.recent(10)]
        sent = store.query("SELECT COUNT(*) FROM deliveries WHERE status = 'sent'")
    assert "message" not in columns
    assert kinds == ["regime", "decoupling", "spike"]
    assert sent == [(3,)]
