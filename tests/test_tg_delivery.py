"""The Sender's own duties: outages pause it, give-ups reach the admins, it never dies.

Driven as in ``tests/test_faults_telegram.py``: the real Sender and PTB ``ExtBot`` against
the loopback fake Bot API server, the store's clock a ``ManualClock`` moved over backoffs
(``Rig.settle``). An "outage" lasts a couple of real seconds; the probe's backoff is scaled
down to match (``probe_first``/``probe_max``). The last tests deliver through the running
bot (``tests.fakes.bot_harness.running_bot``): silent copies, blocked and migrated chats, 429s.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bot.tg.delivery as delivery
from bot.core.sender_lease import read_sender_state
from bot.core.store import Store, format_ts
from bot.core.store.outbox import Outbox
from tests.fakes.bot_harness import ADMIN, RunningBot, running_bot, until
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
from tests.test_tg_handlers import USER, _chat_row

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


# ---- through the running bot: who gets an alert, and what Telegram's refusals do ----------


async def test_alert_reaches_subscribers_silently_where_asked(tmp_path: Path) -> None:
    """Each subscriber gets one copy; 'silent' ones without notification; 'off' ones none."""
    async with running_bot(tmp_path) as bot:
        for user, setting in ((1, None), (2, "silent"), (3, "off")):
            bot.server.send_command("/start", chat_id=user, user_id=user)
            await bot.server.wait_for_reply(user)
            if setting:
                bot.server.send_command(f"/settings spikes {setting}", chat_id=user, user_id=user)
                await bot.server.wait_for_reply(user)
        bot.queue_alert(date(2024, 6, 3))
        [loud] = await bot.server.wait_for_reply(1, timeout=15)
        [quiet] = await bot.server.wait_for_reply(2, timeout=15)
        await until(
            lambda: (
                bot.store.query("SELECT COUNT(*) FROM deliveries WHERE status='sent'")[0][0] == 2
            )
        )
    assert loud.disable_notification in (None, False)
    assert quiet.disable_notification is True
    assert [m for m in bot.server.sent_to(3) if "correlation spike" in m.text] == []


async def test_blocked_user_is_deactivated_not_deleted(tmp_path: Path) -> None:
    """A 403 from Telegram deactivates the chat and drops its delivery."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/start", chat_id=USER, user_id=USER)
        await bot.server.wait_for_reply(USER)
        bot.server.block(USER)
        bot.queue_alert(date(2024, 6, 3))
        await until(lambda: _chat_row(bot, USER)[0] == 0, 15, "deactivation")
        status = bot.store.query("SELECT status, last_error FROM deliveries")
    assert status[0][0] == "dropped"
    assert "forbidden" in str(status[0][1])


async def test_migrated_group_keeps_its_subscription(tmp_path: Path) -> None:
    """'Group upgraded to a supergroup': the subscription and the alert move to the new id."""
    old, new = -4001, -1004001
    async with running_bot(tmp_path) as bot:
        bot.server.set_member_status(old, USER, "administrator")
        bot.server.send_command("/start", chat_id=old, user_id=USER, chat_type="group")
        await bot.server.wait_for_reply(old)
        bot.server.migrate(old, new)
        bot.queue_alert(date(2024, 6, 3))
        await until(lambda: _chat_row(bot, new), 15, "the subscription to move")
        bot.clock.advance(timedelta(seconds=1))  # the resend is due at the next whole second
        [moved] = await bot.server.wait_for_reply(new, timeout=15)
        assert _chat_row(bot, old) is None
        assert _chat_row(bot, new)[0] == 1
    assert "correlation spike" in moved.text


async def test_429_is_obeyed_and_the_message_still_arrives(tmp_path: Path) -> None:
    """After a 429 the delivery waits retry_after, then arrives exactly once."""
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/start", chat_id=USER, user_id=USER)
        await bot.server.wait_for_reply(USER)
        bot.server.burst_429(1, retry_after=1)
        refused_at = bot.clock()
        bot.queue_alert(date(2024, 6, 3))
        await until(lambda: _delivery(bot)[1], 15, "the 429 to be recorded")
        status, error, due = _delivery(bot)
        retry_at = refused_at + timedelta(seconds=1)
        assert (status, due) == ("pending", format_ts(_whole_second_up(retry_at)))
        assert "Flood control exceeded" in str(error)
        assert not [m for m in bot.server.sent_to(USER) if "correlation spike" in m.text]
        bot.clock.advance(_whole_second_up(retry_at) - refused_at)
        [alert] = await bot.server.wait_for_reply(USER, timeout=15)
        refused = [r for r in bot.server.requests if r.method == "sendMessage" and r.status == 429]
        assert len(refused) == 1
        assert alert.time - refused[0].time >= 0.95, "the limiter also paused for retry_after"
        await until(lambda: _delivery(bot)[0] == "sent")
    assert len([m for m in bot.server.sent_to(USER) if "correlation spike" in m.text]) == 1


def _whole_second_up(moment: datetime) -> datetime:
    """Retries are stored to the second, rounded up so none falls due early."""
    return moment.replace(microsecond=0) + timedelta(seconds=1 if moment.microsecond else 0)


def _delivery(bot: RunningBot) -> tuple[str, str | None, str]:
    """(status, last error, next attempt) of the alert's delivery."""
    [(status, error, due)] = bot.store.query(
        "SELECT d.status, d.last_error, d.next_attempt_at FROM deliveries d "
        "JOIN outbound o ON o.id = d.outbound_id WHERE o.key LIKE 'spike:%' AND d.chat_id = ?",
        (USER,),
    )
    return str(status), None if error is None else str(error), str(due)
