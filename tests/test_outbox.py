"""The outbox's own rules, below the sender: when a rescheduled delivery falls due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.core.messages import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.outbox import Outbox
from bot.core.store import Store
from bot.core.subscribers import Subscribers

NOW = datetime(2024, 6, 3, 23, 0, 10, 900_000, tzinfo=UTC)  # 0.9 s into a second


def _one_delivery(store: Store) -> int:
    """One chat subscribed, one alert recorded: the id of its single delivery."""
    Subscribers(store).subscribe(7, kind="private", title="", thread_id=None, now=NOW)
    alert = Alert(
        AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 6, 3), 0.7, 0.1, 3.3, None, None
    )
    payload = Message(title="spike", lead="lead", footer="corrbot").to_json()
    store.record_check([(alert, "text", payload)], window=30, states={}, snapshot=None, now=NOW)
    [(delivery_id,)] = store.query("SELECT id FROM deliveries")
    return int(str(delivery_id))


def test_a_retry_never_falls_due_before_the_time_it_was_given(tmp_path: Path) -> None:
    """A 429's retry_after of 0.5 s from x.9 s is due at x+2.0 s, not at the truncated x+1."""
    with Store.open(tmp_path / "s.db") as store:
        outbox = Outbox(store)
        delivery = _one_delivery(store)
        assert outbox.claim(delivery)
        wanted = NOW + timedelta(seconds=0.5)  # x+1.4 s
        outbox.retry(delivery, at=wanted, error="429", count=False)
        early = [d.id for d in outbox.due(wanted - timedelta(seconds=0.3))]  # x+1.1 s
        on_time = [d.id for d in outbox.due(wanted + timedelta(seconds=0.6))]  # x+2.0 s
    assert early == []
    assert on_time == [delivery]
