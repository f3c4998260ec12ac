"""Subscribers: who an alert would reach, as the dry run reports it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from bot.core.messages import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.outbox import Outbox
from bot.core.store import Store
from bot.core.subscribers import Level, Subscribers

NOW = datetime(2024, 8, 5, 22, 0, tzinfo=UTC)
OPENING = Alert(
    AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 8, 5), 0.62, 0.18, 3.4, None, None
)


def _subscribed(store: Store, *chats: int) -> Subscribers:
    subscribers = Subscribers(store)
    for chat in chats:
        subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=NOW)
    return subscribers


def _record_opening(store: Store) -> None:
    payload = Message(title="spike", lead="lead", footer="corrbot").to_json()
    store.record_check([(OPENING, "text", payload)], window=30, states={}, snapshot=None, now=NOW)


def test_an_opening_reaches_every_chat_whose_setting_is_not_off(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        subscribers = _subscribed(store, 1, 2, 3)
        subscribers.update_settings(3, spikes=Level.OFF, now=NOW)
        assert subscribers.count_eligible(AlertKind.SPIKE) == 2


def test_a_follow_up_reaches_only_the_chats_that_were_sent_its_opening(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        subscribers = _subscribed(store, 1, 2)
        _record_opening(store)
        outbox = Outbox(store)
        [to_two] = [d for d in outbox.due(NOW) if d.chat_id == 2]
        outbox.drop(to_two.id, error="forbidden: bot was blocked by the user")
        _subscribed(store, 2, 3)  # back, and new: neither has the opening
        everyone = subscribers.count_eligible(AlertKind.REGIME)
        audience = subscribers.count_eligible(AlertKind.REGIME, follows=OPENING.key)
    assert (everyone, audience) == (3, 1)
