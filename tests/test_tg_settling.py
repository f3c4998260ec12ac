"""The Settler below the sender: what test_tg_delivery and test_faults_telegram cannot see.

Those drive the whole Sender against the fake Bot API and check the rows; here the Settler
itself settles real outbox rows (claimed first, as the sender claims them) with
python-telegram-bot's own exceptions, to check what only it does: a failure inside the
sender, the metrics and the log events of each outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError

from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.sender_lease import SenderLease
from bot.core.store import Store, format_ts
from bot.core.store.outbox import Due
from bot.metrics import Metrics
from bot.tg.outage import OutageWatch
from bot.tg.settling import Settler
from tests.fakes.clock import ManualClock

NOW = datetime(2024, 6, 3, 23, 0, tzinfo=UTC)
ADMIN = 4242
CHATS = (1, 2, 3, 4)
ALERT = Alert(AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 6, 3), 0.7, 0.1, 3.3)


@dataclass
class Rig:
    """A store with :data:`ALERT` queued to :data:`CHATS`, and a Settler for it."""

    store: Store
    clock: ManualClock
    lease: SenderLease
    metrics: Metrics
    settler: Settler
    woken: list[None] = field(default_factory=list)

    def claim(self, chat: int) -> Due:
        """The chat's delivery, claimed as the sender claims it before sending."""
        [item] = [d for d in self.store.outbox.due(self.clock()) if d.chat_id == chat]
        assert self.store.outbox.claim(item.id)
        return item

    def row(self, chat: int) -> tuple[str, int, str | None, str]:
        """(status, attempts, last error, next attempt) of the chat's delivery of the alert."""
        [(status, attempts, error, due)] = self.store.query(
            "SELECT d.status, d.attempts, d.last_error, d.next_attempt_at FROM deliveries d "
            "JOIN outbound o ON o.id = d.outbound_id WHERE o.key = ? AND d.chat_id = ?",
            (ALERT.key, chat),
        )
        return str(status), int(str(attempts)), None if error is None else str(error), str(due)

    def counted(self, outcome: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            "corrbot_deliveries_total", {"outcome": outcome}
        )


def _rig(tmp_path: Path, *, max_attempts: int) -> Iterator[Rig]:
    clock = ManualClock(NOW)
    with Store.open(tmp_path / "bot.sqlite3") as store:
        for chat in CHATS:
            store.subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=NOW)
        payload = Message(title="spike", lead="lead", footer="corrbot").to_json()
        store.record_check([(ALERT, payload)], window=30, states={}, snapshot=None, now=NOW)
        lease = SenderLease(store.meta, clock, holder="host:1:ab")
        assert lease.acquire()
        metrics = Metrics()
        woken: list[None] = []
        settler = Settler(
            store,
            clock,
            lease,
            OutageWatch(lease, store.outbox, clock),
            max_attempts=max_attempts,
            admins=(ADMIN,),
            metrics=metrics,
            wake=lambda: woken.append(None),
        )
        yield Rig(store, clock, lease, metrics, settler, woken)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """Eight attempts per delivery, as configured by default."""
    yield from _rig(tmp_path, max_attempts=8)


@pytest.fixture
def last_try(tmp_path: Path) -> Iterator[Rig]:
    """One attempt per delivery: the first failure is the last."""
    yield from _rig(tmp_path, max_attempts=1)


def test_a_failure_inside_the_sender_is_retried_in_a_minute(rig: Rig) -> None:
    """A bug or a store error mid-delivery: back to pending a minute later, attempt counted."""
    rig.settler.failed_unexpectedly(rig.claim(1))
    assert rig.row(1) == ("pending", 1, "internal error", format_ts(NOW + timedelta(minutes=1)))
    assert rig.woken == []


def test_a_failure_inside_the_sender_on_the_last_attempt_gives_up_and_tells_the_admins(
    last_try: Rig,
) -> None:
    """Out of attempts: failed for good, reported, counted in the lease, the admins told."""
    last_try.settler.failed_unexpectedly(last_try.claim(1))
    notices = last_try.store.query(
        "SELECT d.chat_id FROM deliveries d JOIN outbound o ON o.id = d.outbound_id "
        "WHERE o.key = ?",
        [f"notice:delivery-failed:{ALERT.key}"],
    )
    assert last_try.row(1)[:3] == ("failed", 1, "internal error")
    assert last_try.settler.report.errors == [f"{ALERT.key} to 1: internal error"]
    assert last_try.lease.given_up == 1
    assert [int(str(chat)) for (chat,) in notices] == [ADMIN]
    assert last_try.woken == [None], "the sender is woken to send the notice now"


async def test_every_outcome_is_counted_under_its_name(rig: Rig) -> None:
    """sent, retry, deactivated and failed each move the deliveries counter by one."""
    await rig.settler.sent(rig.claim(1), 77)
    rig.settler.transient(rig.claim(2), NetworkError("Bad Gateway"))
    rig.settler.answered(rig.claim(3), Forbidden("bot was blocked by the user"))
    rig.settler.answered(rig.claim(4), BadRequest("message thread not found"))
    counted = {o: rig.counted(o) for o in ("sent", "retry", "deactivated", "failed")}
    assert counted == {"sent": 1, "retry": 1, "deactivated": 1, "failed": 1}


async def test_every_outcome_is_logged_under_its_event_with_chat_and_alert(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """Each log line of an outcome carries delivery.<outcome>, the chat id and the alert key."""
    caplog.set_level(logging.INFO, logger="bot.tg.settling")
    await rig.settler.sent(rig.claim(1), 77)
    rig.settler.transient(rig.claim(2), NetworkError("Bad Gateway"))
    rig.settler.answered(rig.claim(3), Forbidden("bot was blocked by the user"))
    rig.settler.answered(rig.claim(4), BadRequest("message thread not found"))
    logged = [
        (record.event, record.chat_id, record.alert, record.levelname)  # type: ignore[attr-defined]
        for record in caplog.records
        if hasattr(record, "event")
    ]
    assert logged == [
        ("delivery.sent", 1, ALERT.key, "INFO"),
        ("delivery.retry", 2, ALERT.key, "WARNING"),
        ("delivery.deactivated", 3, ALERT.key, "WARNING"),
        ("delivery.failed", 4, ALERT.key, "ERROR"),
    ]
