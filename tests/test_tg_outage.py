"""OutageWatch: when failures across chats pause the sender, and what a probe's verdict does.

The watch runs on a real store: its deliveries are the outbox's own rows (``Outbox.due``),
failed as the Settler leaves them (claimed, then rescheduled with the attempt counted), and
its pause is published in the store's sender lease, where /status and health read it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from telegram.error import NetworkError, TimedOut

from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.sender_lease import SenderLease, read_sender_state
from bot.core.store import Store
from bot.core.store.outbox import Due
from bot.tg.outage import OutageWatch
from tests.fakes.clock import ManualClock

NOW = datetime(2024, 6, 3, 23, 0, tzinfo=UTC)
REFUSED = NetworkError("Connection refused")
CHATS = (1, 2, 3, 4)


@dataclass
class Rig:
    """A store with one alert queued to :data:`CHATS`, the sender's lease, and the watch."""

    store: Store
    lease: SenderLease
    watch: OutageWatch
    clock: ManualClock

    def due(self) -> dict[int, Due]:
        """The deliveries due now, by chat."""
        return {item.chat_id: item for item in self.store.outbox.due(self.clock())}

    def fail(self, item: Due) -> bool:
        """One counted attempt that failed in transport, reported to the watch."""
        outbox = self.store.outbox
        assert outbox.claim(item.id)
        outbox.retry(item.id, at=self.clock() + timedelta(minutes=1), error=str(REFUSED))
        return self.watch.transport_failed(item, REFUSED)

    def attempts(self) -> dict[int, tuple[int, str]]:
        """Per chat: attempts spent and next attempt of its delivery."""
        rows = self.store.query("SELECT chat_id, attempts, next_attempt_at FROM deliveries")
        return {int(str(chat)): (int(str(n)), str(at)) for chat, n, at in rows}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """outage_after 3, probes from 1 s doubling to at most 5 s."""
    clock = ManualClock(NOW)
    with Store.open(tmp_path / "bot.sqlite3") as store:
        for chat in CHATS:
            store.subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=NOW)
        alert = Alert(AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 6, 3), 0.7, 0.1, 3.3)
        payload = Message(title="spike", lead="lead", footer="corrbot").to_json()
        store.record_check([(alert, payload)], window=30, states={}, snapshot=None, now=NOW)
        lease = SenderLease(store.meta, clock, holder="host:1:ab")
        assert lease.acquire()
        watch = OutageWatch(
            lease, store.outbox, clock, outage_after=3, probe_first=1.0, probe_max=5.0
        )
        yield Rig(store, lease, watch, clock)


def test_failures_across_outage_after_chats_pause_and_publish_it(rig: Rig) -> None:
    """The third chat failing in a row pauses sending; the lease row says since when and why."""
    due = rig.due()
    rig.fail(due[1])
    rig.fail(due[2])
    paused_after_two = rig.watch.paused
    rig.clock.advance(timedelta(seconds=7))
    rig.fail(due[3])
    state = read_sender_state(rig.store.meta)
    assert (paused_after_two, rig.watch.paused) == (False, True)
    assert state is not None
    assert (state.paused_since, state.pause_reason) == (
        NOW + timedelta(seconds=7),
        "NetworkError: Connection refused",
    )


def test_one_chat_failing_again_and_again_does_not_pause(rig: Rig) -> None:
    """However often the same chat fails, that is its trouble, not an outage."""
    for _ in range(6):
        rig.fail(rig.due()[1])
        rig.clock.advance(timedelta(minutes=1))
    assert rig.attempts()[1][0] == 6
    assert not rig.watch.paused
    state = read_sender_state(rig.store.meta)
    assert state is not None
    assert state.paused_since is None


def test_an_answer_between_failures_starts_the_streak_again(rig: Rig) -> None:
    """Two chats fail, Telegram answers, two more fail: never three in a row, no pause."""
    due = rig.due()
    rig.fail(due[1])
    rig.fail(due[2])
    assert not rig.watch.reached()
    rig.fail(due[3])
    rig.fail(due[4])
    assert not rig.watch.paused


def test_reached_ends_the_pause_and_reports_it_once(rig: Rig) -> None:
    """Telegram answering ends the pause (published too) and says so only the first time."""
    due = rig.due()
    for chat in (1, 2, 3):
        rig.fail(due[chat])
    paused_before = rig.watch.paused
    ended, again = rig.watch.reached(), rig.watch.reached()
    state = read_sender_state(rig.store.meta)
    assert (paused_before, ended, again, rig.watch.paused) == (True, True, False, False)
    assert state is not None
    assert (state.paused_since, state.pause_reason) == (None, None)


def test_unreachable_gives_the_suspects_attempts_back(rig: Rig) -> None:
    """A failed probe: each delivery that failed in the streak has its attempt back, due now."""
    due = rig.due()
    rig.fail(due[4])  # before Telegram answered: not the outage's, its attempt stands
    rig.watch.reached()
    for chat in (1, 2, 3):
        rig.fail(due[chat])
    rig.watch.unreachable(TimedOut())
    attempts = rig.attempts()
    state = read_sender_state(rig.store.meta)
    assert {chat: n for chat, (n, _) in attempts.items()} == {1: 0, 2: 0, 3: 0, 4: 1}
    assert sorted(rig.due()) == [1, 2, 3], "given back and due at once; 4 waits its backoff"
    assert state is not None
    assert str(state.pause_reason).startswith("Telegram unreachable: TimedOut")


def test_once_unreachable_further_failures_are_not_counted(rig: Rig) -> None:
    """After a failed probe, a transport failure is the outage's: transport_failed says so."""
    due = rig.due()
    counted = [rig.fail(due[chat]) for chat in (1, 2, 3)]
    rig.watch.unreachable(REFUSED)
    assert counted == [False, False, False]
    assert rig.fail(due[4]) is True


def test_each_failed_probe_doubles_the_delay_up_to_the_max(rig: Rig) -> None:
    """Probes wait 1 s, then 2, 4 and never more than probe_max (5 s)."""
    delays = [rig.watch.probe_delay]
    for _ in range(4):
        rig.watch.unreachable(REFUSED)
        delays.append(rig.watch.probe_delay)
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_give_up_is_deferred_only_when_other_chats_fail_too(rig: Rig) -> None:
    """One chat failing alone gives up at once; with another chat failing it waits."""
    due = rig.due()
    rig.fail(due[1])
    alone = rig.watch.defer_give_up(due[1])
    rig.fail(due[2])
    with_others = rig.watch.defer_give_up(due[1])
    assert (alone, with_others) == (False, True)


def test_each_give_up_is_deferred_once(rig: Rig) -> None:
    """A row waits for the verdict once; asked again, it gives up. Another row still waits."""
    due = rig.due()
    rig.fail(due[1])
    rig.fail(due[2])
    first, second = rig.watch.defer_give_up(due[1]), rig.watch.defer_give_up(due[1])
    other = rig.watch.defer_give_up(due[2])
    assert (first, second, other) == (True, False, True)
