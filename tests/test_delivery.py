"""The Sender's own duties: outages pause it, give-ups reach the admins, it never dies.

Driven as in ``tests/test_faults_telegram.py``: the real Sender and PTB ``ExtBot`` against
the loopback fake Bot API server, the store's clock a ``ManualClock`` moved over backoffs
(``Rig.settle``). An "outage" lasts a couple of real seconds; the probe's backoff is scaled
down to match (``probe_first``/``probe_max``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import bot.tg.delivery as delivery
from bot.core.sender_lease import read_sender_state
from bot.core.store import Store
from bot.core.store.outbox import Outbox
from tests.fakes.bot_harness import ADMIN, until
from tests.fakes.telegram_api import FakeTelegram
from tests.test_faults_telegram import (
    TITLE,
    Rig,
    _alert_copies,
    _deliveries,
    _in_flight,
    _jump_to_next_due,
    _unsettled,
    sender_rig,
)

BROADCAST = tuple(range(1, 101))
FAST_PROBE = {"probe_first": 0.05, "probe_max": 0.1, "renew_every": 0.2}
#: Longer than the whole retry budget of 8 attempts (2+4+...+128 s) and a deferred give-up
#: (256 s more) together: only the pause saves the deliveries.
OUTAGE = timedelta(minutes=15)
ROUND = timedelta(seconds=60)


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(seed=5) as fake:
        yield fake


def _statuses(store: Store) -> Counter[str]:
    return Counter(str(r[0]) for r in store.query("SELECT status FROM deliveries"))


def _notices(store: Store) -> list[str]:
    rows = store.query("SELECT key FROM outbound WHERE kind = 'notice' ORDER BY id")
    return [str(r[0]) for r in rows]


async def _settle_through_outage(
    rig: Rig, restore: Callable[[], Awaitable[None]], lasting: timedelta = OUTAGE
) -> None:
    """Drain until settled while the outage lasts ``lasting`` on the store's clock.

    Each round skips over retry backoffs as :meth:`Rig.settle` does, or, with none to
    wait for (the sender paused), lets :data:`ROUND` pass as it would while probing;
    once the clock is past the outage, ``restore`` brings Telegram back.
    """
    start, down = rig.clock(), True
    for _ in range(200):
        await rig.sender.drain(within=0.3)
        if down and rig.clock() - start >= lasting:
            down = False
            await restore()
        if not _unsettled(rig.store):
            return
        if not _in_flight(rig.store):
            before = rig.clock()
            _jump_to_next_due(rig.store, rig.clock)
            if down and rig.clock() == before:  # nothing to wait for but the outage
                rig.clock.advance(ROUND)
    raise AssertionError(f"deliveries still open: {_deliveries(rig.store)}")


async def _gateway_up(server: FakeTelegram) -> None:
    server.gateway_down = None


# ---- outages: no attempt is spent while Telegram cannot be reached -----------------------


async def test_a_502_storm_longer_than_the_retry_budget_loses_no_delivery(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """API answering 502 for 15 min of a 100-chat broadcast: 0 failed, each chat one copy."""
    async with sender_rig(tmp_path, server, chats=BROADCAST, **FAST_PROBE) as rig:
        server.gateway_down = 502
        rig.queue_alert()
        await _settle_through_outage(rig, lambda: _gateway_up(server))
        statuses = _statuses(rig.store)
    assert statuses == {"sent": len(BROADCAST)}
    assert _alert_copies(server) == dict.fromkeys(BROADCAST, 1)


async def test_attempts_failed_during_an_outage_are_given_back(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """After a 504 outage every delivery shows one attempt: the one that got through."""
    async with sender_rig(tmp_path, server, chats=BROADCAST, **FAST_PROBE) as rig:
        server.gateway_down = 504
        rig.queue_alert()
        await _settle_through_outage(rig, lambda: _gateway_up(server))
        attempts = Counter(attempts for _, attempts, _ in _deliveries(rig.store).values())
    assert attempts == {1: len(BROADCAST)}


async def _cut_off(server: FakeTelegram) -> None:
    """Telegram unreachable: new connections refused, open ones hung up."""
    server.hang_up = True
    await server.go_offline()


async def _reconnect(server: FakeTelegram) -> None:
    server.hang_up = False
    await server.go_online()


async def test_refused_connections_pause_the_sender_until_telegram_listens_again(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """Telegram's port closed for a while: nothing fails, everything arrives once after."""
    async with sender_rig(tmp_path, server, chats=BROADCAST, **FAST_PROBE) as rig:
        await _cut_off(server)
        rig.queue_alert()
        await _settle_through_outage(rig, lambda: _reconnect(server))
        statuses = _statuses(rig.store)
    assert statuses == {"sent": len(BROADCAST)}
    assert _alert_copies(server) == dict.fromkeys(BROADCAST, 1)
    assert [r for r in server.requests if r.status == 0], "the outage must have cut requests"


async def test_while_paused_the_sender_state_says_since_when_and_why(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """The lease row shows the pause (for /status and health) and clears it on resumption."""
    async with sender_rig(tmp_path, server, chats=BROADCAST[:10], **FAST_PROBE) as rig:
        server.gateway_down = 502
        rig.queue_alert()
        drain = asyncio.create_task(rig.sender.drain(within=5.0))
        paused = await until(
            lambda: (
                (state := read_sender_state(rig.store.meta)) is not None
                and "unreachable" in str(state.pause_reason)
                and state
            ),
            5,
            "the outage to be published",
        )
        server.gateway_down = None
        await drain
        after = read_sender_state(rig.store.meta)
    assert paused.paused_since == rig.clock()
    assert "Bad Gateway" in str(paused.pause_reason)
    assert after is not None
    assert not after.paused


async def test_when_only_sends_fail_and_getme_answers_attempts_still_run_out(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """5xx on every send while getMe answers is no outage: each delivery gives up, bounded."""
    server.error_rate = 1.0  # message methods only: getMe still answers
    chats = BROADCAST[:10]
    async with sender_rig(tmp_path, server, chats=chats, max_attempts=3, **FAST_PROBE) as rig:
        rig.queue_alert()
        await rig.settle()
        deliveries = _deliveries(rig.store)
    assert {chat: row[:2] for chat, row in deliveries.items()} == dict.fromkeys(
        chats, ("failed", 3)
    )
    assert len(server.calls("sendMessage")) <= len(chats) * 4


# ---- a delivery that gives up tells the admins ------------------------------------------


async def test_a_delivery_that_gives_up_queues_one_notice_to_the_admins(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """Two chats reject an alert: the admins get one notice naming it, delivered."""
    server.bad_request(2, "message thread not found")
    server.bad_request(3, "message thread not found")
    async with sender_rig(tmp_path, server, chats=(1, 2, 3), admins=(ADMIN,)) as rig:
        rig.queue_alert()
        await rig.settle()
        notices = _notices(rig.store)
        state = read_sender_state(rig.store.meta)
    [notice] = notices
    assert notice.startswith("notice:delivery-failed:spike:")
    [told] = server.sent_to(ADMIN)
    assert "failed for good" in str(told.text)
    assert state is not None
    assert state.given_up == 2


async def test_a_failing_notice_to_the_admins_is_not_reported_again(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """The admins' chat rejects the notice too: one notice, no notice about the notice."""
    server.bad_request(2, "message thread not found")
    server.bad_request(ADMIN, "message thread not found")
    async with sender_rig(tmp_path, server, chats=(1, 2), admins=(ADMIN,)) as rig:
        rig.queue_alert()
        await rig.settle()
        notices = _notices(rig.store)
    assert len(notices) == 1


# ---- a row that cannot be read is set aside; the loop never dies -------------------------


def _spoil_payload(store: Store) -> None:
    """Rewrite the stored message as an old format no longer read."""
    with store.transaction() as conn:
        conn.execute('UPDATE outbound SET payload = \'{"text": "old format"}\'')


async def test_an_unreadable_message_is_failed_with_its_error_and_the_rest_still_goes(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """An old-format payload fails its rows (error kept, admins told); later rows still go."""
    async with sender_rig(tmp_path, server, chats=(1, 2), admins=(ADMIN,)) as rig:
        rig.queue_alert()
        _spoil_payload(rig.store)
        report = await rig.sender.drain(within=2.0)
        rows = rig.store.query("SELECT status, last_error FROM deliveries WHERE chat_id = 1")
        notices = _notices(rig.store)
    [(status, error)] = rows
    assert status == "failed"
    assert "unreadable message" in str(error)
    assert report.failed == 2
    assert len(notices) == 1
    assert server.sent_to(ADMIN), "the notice itself was delivered"


async def test_the_sender_loop_survives_an_error_and_delivers_afterwards(
    tmp_path: Path,
    server: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The outbox failing once is logged; the running sender goes on and delivers."""
    monkeypatch.setattr(delivery, "_CRASH_FIRST_DELAY", 0.05)
    failures = iter([RuntimeError("the store hiccuped")])
    real_due = Outbox.due

    def flaky_due(self: Outbox, *args: Any, **kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_due(self, *args, **kwargs)

    monkeypatch.setattr(Outbox, "due", flaky_due)
    caplog.set_level(logging.ERROR, logger="bot.tg.delivery")
    async with sender_rig(tmp_path, server, chats=(1, 2), **FAST_PROBE) as rig:
        rig.queue_alert()
        task = asyncio.create_task(rig.sender.run())
        await until(lambda: len(server.sent) == 2, 10, "both deliveries after the error")
        await rig.sender.stop(grace=1.0)
        await asyncio.wait_for(task, 5)
    assert "the sender failed" in caplog.text
    assert Counter(m.chat_id for m in server.sent if TITLE in str(m.text)) == {1: 1, 2: 1}


# ---- chat migration: merged, and bounded ---------------------------------------------------

OLD_GROUP, NEW_GROUP = -4001, -1004001


async def test_a_migrated_group_whose_supergroup_is_subscribed_gets_one_copy(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """Old id and new id both subscribed: the old delivery merges into the new one's."""
    server.migrate(OLD_GROUP, NEW_GROUP)
    async with sender_rig(tmp_path, server, chats=(OLD_GROUP, NEW_GROUP)) as rig:
        rig.queue_alert()
        await rig.settle()
        deliveries = _deliveries(rig.store)
    assert _alert_copies(server) == {NEW_GROUP: 1}
    assert len([r for r in server.calls("sendMessage") if r.params["chat_id"] == OLD_GROUP]) == 1
    assert deliveries[NEW_GROUP][0] == "sent"
    assert deliveries[OLD_GROUP][0] == "dropped"
    assert "merged" in str(deliveries[OLD_GROUP][2])


async def test_a_migration_loop_ends_after_max_attempts(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """Two ids that each claim to have moved to the other: bounded, then 'failed'."""
    server.migrate(OLD_GROUP, NEW_GROUP)
    server.migrate(NEW_GROUP, OLD_GROUP)
    async with sender_rig(tmp_path, server, chats=(OLD_GROUP,), max_attempts=4) as rig:
        rig.queue_alert()
        await rig.settle()
        [(status, attempts, _)] = _deliveries(rig.store).values()
    assert (status, attempts) == ("failed", 4)
    assert len(server.calls("sendMessage")) == 4
