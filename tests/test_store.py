"""The store as a whole: a run of the daily job is recorded once, and all of it or none of it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.core.errors import StoreError
from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.snapshot import Snapshot
from bot.core.store import Store

NOW = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)
PAIR = Pair("BTC", "PSCT")
SPIKE = Alert(AlertKind.SPIKE, PAIR, 30, date(2024, 12, 3), 0.62, 0.18, 3.4)
PAYLOAD = Message(title="spike", lead="lead", footer="corrbot").to_json()
DIGEST = ("digest:2024-12-03", Message(title="digest", lead="lead", footer="corrbot").to_json())


def _subscribe(store: Store, chat: int, *, digest: bool = False) -> None:
    store.subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=NOW)
    store.subscribers.update_settings(chat, digest=digest, now=NOW)


def _chats_sent(store: Store, key: str) -> list[int]:
    """The chats a delivery of the outbound message ``key`` is queued for."""
    rows = store.query(
        "SELECT d.chat_id FROM deliveries d JOIN outbound o ON o.id = d.outbound_id "
        "WHERE o.key = ? ORDER BY d.chat_id",
        [key],
    )
    return [int(str(row[0])) for row in rows]


def _snapshot(as_of: date) -> Snapshot:
    return Snapshot(
        as_of=as_of,
        headline_window=30,
        windows=(30,),
        crypto=("BTC",),
        equities=("PSCT",),
        readings=(),
        vols=(),
    )


def test_an_alert_recorded_already_is_not_recorded_or_fanned_out_again(tmp_path: Path) -> None:
    """Re-running a session returns no new alert, and a chat subscribed since gets no copy."""
    with Store.open(tmp_path / "s.db") as store:
        _subscribe(store, 1)
        first = store.record_check([(SPIKE, PAYLOAD)], window=30, states={}, snapshot=None, now=NOW)
        _subscribe(store, 2)
        again = store.record_check([(SPIKE, PAYLOAD)], window=30, states={}, snapshot=None, now=NOW)
        alerts = store.query("SELECT COUNT(*) FROM alerts")
        chats = _chats_sent(store, SPIKE.key)
    assert [s.alert for s in first] == [SPIKE]
    assert again == []
    assert alerts == [(1,)]
    assert chats == [1]


def test_a_run_that_fails_part_way_leaves_nothing_of_it(tmp_path: Path) -> None:
    """The snapshot, written last, is refused: the alert, deliveries, state and digest go too."""
    with Store.open(tmp_path / "s.db") as store:
        _subscribe(store, 1, digest=True)
        with store.transaction() as conn:
            conn.execute(
                "CREATE TRIGGER refuse_meta BEFORE INSERT ON meta "
                "BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        with pytest.raises(StoreError, match="cannot write"):
            store.record_check(
                [(SPIKE, PAYLOAD)],
                window=30,
                states={PAIR: '{"last_session": "2024-12-03"}'},
                snapshot=_snapshot(date(2024, 12, 3)).to_json(),
                now=NOW,
                digest=DIGEST,
            )
        rows = {
            table: store.query(f"SELECT COUNT(*) FROM {table}")[0][0]
            for table in ("alerts", "outbound", "deliveries", "engine_state", "meta")
        }
    assert rows == {"alerts": 0, "outbound": 0, "deliveries": 0, "engine_state": 0, "meta": 0}


def test_the_digest_is_queued_once_per_key(tmp_path: Path) -> None:
    """Re-running a session queues no second digest, not even for a chat that asked since."""
    with Store.open(tmp_path / "s.db") as store:
        _subscribe(store, 1, digest=True)
        store.record_check([], window=30, states={}, snapshot=None, now=NOW, digest=DIGEST)
        _subscribe(store, 2, digest=True)
        store.record_check([], window=30, states={}, snapshot=None, now=NOW, digest=DIGEST)
        digests = store.query("SELECT COUNT(*) FROM outbound WHERE kind = 'digest'")
        chats = _chats_sent(store, DIGEST[0])
    assert digests == [(1,)]
    assert chats == [1]


def test_the_snapshot_of_a_run_is_stored(tmp_path: Path) -> None:
    """What ``/corr`` shows after a run is the snapshot that run recorded."""
    with Store.open(tmp_path / "s.db") as store:
        for session in (date(2024, 12, 2), date(2024, 12, 3)):
            snapshot = _snapshot(session).to_json()
            store.record_check([], window=30, states={}, snapshot=snapshot, now=NOW)
        stored = store.meta.snapshot()
    assert stored == _snapshot(date(2024, 12, 3))


def test_a_run_without_a_snapshot_keeps_the_last_one(tmp_path: Path) -> None:
    """A run that evaluated nothing leaves ``/corr`` showing the previous session."""
    with Store.open(tmp_path / "s.db") as store:
        snapshot = _snapshot(date(2024, 12, 2)).to_json()
        store.record_check([], window=30, states={}, snapshot=snapshot, now=NOW)
        store.record_check([], window=30, states={}, snapshot=None, now=NOW)
        stored = store.meta.snapshot()
    assert stored == _snapshot(date(2024, 12, 2))
