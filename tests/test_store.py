"""The SQLite store: created private, WAL, migrated forward, a faithful price cache."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.core.errors import StoreError
from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.store import Store, format_ts, parse_ts
from bot.core.store.migrations import MIGRATIONS

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


def test_prices_round_trip(tmp_path: Path) -> None:
    """Closes come back at the same UTC instants with the same values."""
    closes = _series(("2024-12-02T21:00", 100.5), ("2024-12-03T21:00", 101.25))
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert("BTC", closes, source="ccxt:kraken", fetched_at=NOW)
        loaded = store.prices.load("BTC")
    expected = closes.set_axis(closes.index.as_unit("ns"))  # the calendar's unit: cheap joins
    pd.testing.assert_series_equal(loaded, expected, check_names=False, check_freq=False)
    assert str(loaded.index.tz) == "UTC"


def test_revised_close_overwrites(tmp_path: Path) -> None:
    """Fetching a session again replaces its close (revisions win) and its source."""
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert(
            "PSCT", _series(("2024-12-03T21:00", 50.0)), source="csv", fetched_at=NOW
        )
        store.prices.upsert(
            "PSCT", _series(("2024-12-03T21:00", 50.5)), source="yfinance", fetched_at=NOW
        )
        assert store.prices.load("PSCT").tolist() == [50.5]
        assert store.prices.sources("PSCT") == ["yfinance"]


def test_not_a_number_is_kept_as_a_hole(tmp_path: Path) -> None:
    """A NaN close is stored (as NULL) so the quality checks can flag it."""
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert(
            "BTC", _series(("2024-12-03T21:00", np.nan)), source="csv", fetched_at=NOW
        )
        loaded = store.prices.load("BTC")
    assert len(loaded) == 1
    assert np.isnan(loaded.iloc[0])


def test_load_since_filters_older_rows(tmp_path: Path) -> None:
    """Only observations at or after ``since`` are loaded."""
    closes = _series(("2024-12-02T21:00", 1.0), ("2024-12-03T21:00", 2.0))
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert("BTC", closes, source="csv", fetched_at=NOW)
        assert store.prices.load("BTC", since=datetime(2024, 12, 3, tzinfo=UTC)).tolist() == [2.0]


def test_failed_fetch_keeps_last_success_time(tmp_path: Path) -> None:
    """A failure is recorded without forgetting when the symbol last refreshed fine."""
    later = datetime(2024, 12, 4, 22, 0, tzinfo=UTC)
    with Store.open(tmp_path / "s.db") as store:
        store.prices.record_fetch("BTC", source="ccxt", attempted_at=NOW, error=None)
        store.prices.record_fetch(
            "BTC", source="ccxt", attempted_at=later, error="all exchanges down"
        )
        record = store.prices.fetch_records()["BTC"]
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


def test_prune_forgets_old_prices_and_gaps(tmp_path: Path) -> None:
    """Prices older than the kept window are removed."""
    closes = _series(("2020-01-02T21:00", 1.0), ("2024-12-03T21:00", 2.0))
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert("BTC", closes, source="csv", fetched_at=NOW)
        store.prices.record_gaps(
            "BTC", [pd.Timestamp("2020-01-03T21:00", tz="UTC")], checked_at=NOW
        )
        assert store.prices.prune_before("BTC", datetime(2024, 1, 1, tzinfo=UTC)) == 1
        assert store.prices.load("BTC").tolist() == [2.0]
        assert len(store.prices.known_gaps("BTC")) == 0


def test_timestamps_are_utc_text() -> None:
    """Instants are stored as sortable UTC ISO text and read back equal."""
    stamp = pd.Timestamp("2024-07-03 13:00", tz="America/New_York")
    assert format_ts(stamp) == "2024-07-03T17:00:00Z"
    assert parse_ts(format_ts(stamp)) == stamp


# ---- alerts: migration 4 and the episode fields --------------------------------------------


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


def test_a_recorded_alert_keeps_its_interval_direction_and_episode(tmp_path: Path) -> None:
    """An episode's opening and its silent follow-up read back as they were recorded."""
    pair = Pair("BTC", "PSCT")
    opening = Alert(
        AlertKind.DECOUPLING,
        pair,
        30,
        date(2024, 8, 5),
        0.04,
        0.51,
        -3.6,
        "linked",
        "decoupled",
        catch_up=True,
        since=date(2024, 7, 26),
        direction="down",
        lower=-0.32,
        upper=0.39,
        prev_lower=0.42,
        prev_upper=0.59,
        notify=True,
        episode="decoupling:BTC~PSCT:30:2024-08-05",
    )
    follow_up = Alert(
        AlertKind.REGIME,
        pair,
        30,
        date(2024, 8, 9),
        -0.31,
        0.04,
        -4.0,
        "decoupled",
        "inverse",
        direction="down",
        lower=-0.6,
        upper=0.06,
        prev_lower=-0.32,
        prev_upper=0.39,
        notify=False,
        episode=opening.key,
    )
    payload = Message(title="t", lead="l", footer="f").to_json()
    with Store.open(tmp_path / "s.db") as store:
        recorded = store.record_check(
            [(opening, payload), (follow_up, payload)],
            window=30,
            states={},
            snapshot=None,
            now=NOW,
        )
        stored = store.alerts.recent(2)
        replies = {str(k): r for k, r in store.query("SELECT key, reply_to FROM outbound")}
    assert [s.alert for s in recorded] == [opening, follow_up]
    assert [s.alert for s in stored] == [follow_up, opening]
    assert replies == {opening.key: None, follow_up.key: opening.key}


def test_a_missing_interval_reads_back_as_not_a_number(tmp_path: Path) -> None:
    """An interval that could not be computed is stored empty, not as a made-up number."""
    alert = Alert(
        AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 8, 5), 0.7, float("nan"), 3.2
    )
    payload = Message(title="t", lead="l", footer="f").to_json()
    with Store.open(tmp_path / "s.db") as store:
        store.record_check([(alert, payload)], window=30, states={}, snapshot=None, now=NOW)
        [row] = store.query("SELECT prev_corr, lower, upper, notify, episode FROM alerts")
        [stored] = store.alerts.recent(1)
    assert row == (None, None, None, 1, None)
    assert np.isnan(stored.alert.lower)
    assert np.isnan(stored.alert.prev_corr)


# -- revised and late prices re-open the engine states of their pairs -------------------------

PAIR = Pair("BTC", "PSCT")
OTHER = Pair("ETH", "QQQ")


def _states(store: Store, *pairs: Pair) -> None:
    store.record_check(
        [],
        window=30,
        states=dict.fromkeys(pairs, '{"last_session": "2024-12-03"}'),
        snapshot=None,
        now=NOW,
    )


def _priced(store: Store) -> None:
    store.prices.upsert(
        "PSCT",
        _series(("2024-12-02T21:00", 10.0), ("2024-12-03T21:00", 11.0)),
        source="t",
        fetched_at=NOW,
    )


def test_a_revised_close_reopens_the_pairs_of_its_symbol_from_its_instant(tmp_path: Path) -> None:
    """PSCT's close of 2024-12-02 changes: BTC~PSCT re-opens there, ETH~QQQ is untouched."""
    with Store.open(tmp_path / "s.db") as store:
        _priced(store)
        _states(store, PAIR, OTHER)
        store.prices.upsert("PSCT", _series(("2024-12-02T21:00", 12.5)), source="t", fetched_at=NOW)
        assert store.alerts.reopenings(30) == {PAIR: pd.Timestamp("2024-12-02T21:00", tz="UTC")}


def test_the_same_close_written_again_reopens_nothing(tmp_path: Path) -> None:
    """The overlap re-fetches the last sessions every day: unchanged closes are no revision."""
    with Store.open(tmp_path / "s.db") as store:
        _priced(store)
        _states(store, PAIR)
        _priced(store)
        assert store.alerts.reopenings(30) == {}


def test_a_hole_filled_late_reopens_its_pairs(tmp_path: Path) -> None:
    """A price arriving for an instant before the latest stored one is late data: re-open."""
    with Store.open(tmp_path / "s.db") as store:
        _priced(store)
        _states(store, PAIR)
        store.prices.upsert("PSCT", _series(("2024-11-29T21:00", 9.0)), source="t", fetched_at=NOW)
        assert store.alerts.reopenings(30) == {PAIR: pd.Timestamp("2024-11-29T21:00", tz="UTC")}


def test_a_new_latest_price_reopens_nothing(tmp_path: Path) -> None:
    """Prices after the latest stored one are the ordinary new sessions."""
    with Store.open(tmp_path / "s.db") as store:
        _priced(store)
        _states(store, PAIR)
        store.prices.upsert("PSCT", _series(("2024-12-04T21:00", 9.0)), source="t", fetched_at=NOW)
        assert store.alerts.reopenings(30) == {}


def test_recording_clears_the_reopening_it_applied_but_not_a_newer_one(tmp_path: Path) -> None:
    """A revision written between evaluating and recording is kept for the next run."""
    with Store.open(tmp_path / "s.db") as store:
        _priced(store)
        _states(store, PAIR)
        store.prices.upsert("PSCT", _series(("2024-12-03T21:00", 13.0)), source="t", fetched_at=NOW)
        applied = store.alerts.reopenings(30)
        store.record_check([], window=30, states={}, snapshot=None, now=NOW, reopened=applied)
        assert store.alerts.reopenings(30) == {}
        store.prices.upsert("PSCT", _series(("2024-12-03T21:00", 14.0)), source="t", fetched_at=NOW)
        store.prices.upsert("PSCT", _series(("2024-12-02T21:00", 1.0)), source="t", fetched_at=NOW)
        store.record_check([], window=30, states={}, snapshot=None, now=NOW, reopened=applied)
        assert store.alerts.reopenings(30) == {PAIR: pd.Timestamp("2024-12-02T21:00", tz="UTC")}


def test_a_price_written_for_a_known_gap_is_no_longer_a_gap(tmp_path: Path) -> None:
    """Late data for an instant given up on fills it, and it stops being a known gap."""
    with Store.open(tmp_path / "s.db") as store:
        gap = pd.Timestamp("2024-11-29T21:00", tz="UTC")
        store.prices.record_gaps("PSCT", [gap], checked_at=NOW)
        store.prices.upsert("PSCT", _series(("2024-11-29T21:00", 9.0)), source="t", fetched_at=NOW)
        assert store.prices.known_gaps("PSCT").empty


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


def test_history_written_before_reopen_from_reopens_nothing(tmp_path: Path) -> None:
    """A kept window grown backwards fetches old history: no revision, no re-walk."""
    with Store.open(tmp_path / "s.db") as store:
        _priced(store)
        _states(store, PAIR)
        store.prices.upsert(
            "PSCT",
            _series(("2024-11-29T21:00", 9.0), ("2024-12-02T21:00", 10.0)),
            source="t",
            fetched_at=NOW,
            reopen_from=pd.Timestamp("2024-12-02T21:00", tz="UTC"),
        )
        assert store.alerts.reopenings(30) == {}
