"""Subscribed chats: a group migrated to a supergroup keeps its subscription and deliveries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.store import Store
from bot.core.store.chats import Subscribers

NOW = datetime(2024, 8, 5, 22, 0, tzinfo=UTC)
OPENING = Alert(
    AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 8, 5), 0.62, 0.18, 3.4, None, None
)


def _subscribed(store: Store, *chats: int) -> Subscribers:
    subscribers = store.subscribers
    for chat in chats:
        subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=NOW)
    return subscribers


def _record_opening(store: Store) -> None:
    payload = Message(title="spike", lead="lead", footer="corrbot").to_json()
    store.record_check([(OPENING, payload)], window=30, states={}, snapshot=None, now=NOW)


OLD_GROUP, NEW_GROUP = -4001, -1004001


def _statuses_by_chat(store: Store) -> dict[int, tuple[str, str | None]]:
    rows = store.query("SELECT chat_id, status, last_error FROM deliveries")
    return {int(str(c)): (str(s), None if e is None else str(e)) for c, s, e in rows}


def test_migrating_onto_a_subscribed_supergroup_merges_their_deliveries(tmp_path: Path) -> None:
    """Both ids had the alert: the old id's copy is dropped as merged, the new one's kept."""
    with Store.open(tmp_path / "s.db") as store:
        subscribers = _subscribed(store, OLD_GROUP, NEW_GROUP)
        _record_opening(store)
        merged = subscribers.migrate(OLD_GROUP, NEW_GROUP, now=NOW)
        statuses = _statuses_by_chat(store)
        due = [d.chat_id for d in store.outbox.due(NOW)]
    assert merged == 1
    assert statuses[OLD_GROUP][0] == "dropped"
    assert "merged" in str(statuses[OLD_GROUP][1])
    assert due == [NEW_GROUP]


def test_migrating_moves_a_delivery_the_supergroup_lacks(tmp_path: Path) -> None:
    """A group's open delivery follows it to a supergroup id that lacks that message."""
    with Store.open(tmp_path / "s.db") as store:
        subscribers = _subscribed(store, OLD_GROUP)
        _record_opening(store)
        _subscribed(store, NEW_GROUP)  # subscribed after the alert: has no delivery of it
        merged = subscribers.migrate(OLD_GROUP, NEW_GROUP, now=NOW)
        due = [d.chat_id for d in store.outbox.due(NOW)]
    assert merged == 0
    assert due == [NEW_GROUP]
