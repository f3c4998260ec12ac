"""Telegram misbehaving (5xx, timeouts, 429 bursts, blocked chats, bad requests).

Every test drives the real :class:`bot.tg.delivery.Sender` (through the running bot, or
directly with a ``telegram.ext.ExtBot`` and the real ``PacedRateLimiter``, as
``corrbot check`` does) against the fake Bot API server, and checks the outbox contract:
nothing lost, nothing duplicated, every row settled.

About timeouts: the Sender asks for ``read_timeout=15`` on every ``send_message``, so a
fault is only a *client* timeout when the server holds the answer longer than that. To keep
tests fast the direct rig uses a bot whose ``send_message`` caps the read timeout at
``CLIENT_TIMEOUT`` and a fake whose ``timeout_delay`` is longer. A timed-out request is
ambiguous: with ``deliver_on_timeout`` Telegram got the message although the client gave
up, the Sender retries (a duplicate beats a lost alert), so a chat may get a second copy,
never more copies than attempts.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import ReplyParameters
from telegram.error import BadRequest
from telegram.ext import ExtBot

import bot.tg  # noqa: F401 - sets PTB_TIMEDELTA before any RetryAfter is built
from bot.compose import build_evaluator, build_market_data
from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.service import CorrService
from bot.core.store import Store, parse_ts
from bot.core.store.chats import Level
from bot.tg.delivery import Sender
from bot.tg.ratelimit import PacedRateLimiter
from tests.fakes.bot_harness import START, RunningBot, bot_config, running_bot, until
from tests.fakes.clock import ManualClock, ProcessClock
from tests.fakes.telegram_api import TOKEN, FakeTelegram

CHATS = tuple(range(1, 31))
BLOCKED = frozenset({7, 19, 26})
CLIENT_TIMEOUT = 0.3  # seconds; the fake holds "timed out" answers longer
SESSION = date(2024, 6, 3)
TITLE = "BTC~PSCT correlation spike"


def _alert_copies(server: FakeTelegram) -> Counter[int]:
    """How many copies of the test alert each chat received."""
    return Counter(m.chat_id for m in server.sent if m.text and TITLE in m.text)


def _record_alert(store: Store, now: Any, day: date = SESSION) -> None:
    """Record one spike alert with a delivery per eligible chat, as the daily job does."""
    alert = Alert(AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, day, 0.71, 0.12, 3.3, None, None)
    message = Message(title=TITLE, lead="Test alert.", footer="x")
    store.record_check([(alert, message.to_json())], window=30, states={}, snapshot=None, now=now)


def _deliveries(store: Store) -> dict[int, tuple[str, int, str | None]]:
    """Per chat: (status, attempts, last_error) of its delivery (one alert queued)."""
    rows = store.query("SELECT chat_id, status, attempts, last_error FROM deliveries")
    return {
        int(str(r[0])): (str(r[1]), int(str(r[2])), None if r[3] is None else str(r[3]))
        for r in rows
    }


def _unsettled(store: Store) -> int:
    rows = store.query("SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')")
    return int(str(rows[0][0]))


def _in_flight(store: Store) -> int:
    return int(str(store.query("SELECT COUNT(*) FROM deliveries WHERE status = 'sending'")[0][0]))


def _jump_to_next_due(store: Store, clock: ManualClock | ProcessClock) -> None:
    """Skip the clock over a retry backoff instead of sleeping through it."""
    rows = store.query("SELECT MIN(next_attempt_at) FROM deliveries WHERE status = 'pending'")
    if rows[0][0] is None:
        return
    gap = parse_ts(str(rows[0][0])).to_pydatetime() - clock()
    if gap > timedelta(0):
        clock.advance(gap + timedelta(seconds=1))  # rows are due at whole seconds


class ShortTimeoutBot(ExtBot):  # type: ignore[type-arg]
    """An ExtBot whose send_message gives up after CLIENT_TIMEOUT (the Sender asks for 15 s)."""

    async def send_message(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["read_timeout"] = CLIENT_TIMEOUT
        return await super().send_message(*args, **kwargs)


@dataclass
class Rig:
    """A Sender over a store with subscribed chats, talking to the fake server."""

    server: FakeTelegram
    store: Store
    service: CorrService
    sender: Sender
    clock: ManualClock
    limiter: PacedRateLimiter

    def queue_alert(self) -> None:
        _record_alert(self.store, self.clock())

    async def settle(self, rounds: int = 60) -> None:
        """Drain until every delivery is sent, failed or dropped, skipping backoff waits."""
        for _ in range(rounds):
            await self.sender.drain(within=1.5)
            if not _unsettled(self.store):
                return
            if not _in_flight(self.store):
                _jump_to_next_due(self.store, self.clock)
        raise AssertionError(f"deliveries still open: {_deliveries(self.store)}")


@contextlib.asynccontextmanager
async def sender_rig(
    tmp_path: Path,
    server: FakeTelegram,
    *,
    chats: tuple[int, ...] = CHATS,
    max_attempts: int = 8,
    concurrency: int = 32,
    bot_class: type[ExtBot] = ExtBot,  # type: ignore[type-arg]
    **sender_options: Any,
) -> AsyncIterator[Rig]:
    """The Sender as ``corrbot check`` builds it, over a fresh store with ``chats`` subscribed.

    ``sender_options`` go to :class:`Sender` as they are (``admins``, the outage probe's
    timing...).
    """
    config = bot_config(tmp_path, server)
    clock = ManualClock(START)
    limiter = PacedRateLimiter(per_second=config.delivery.messages_per_second)
    with Store.open(config.storage.path) as store:
        market = build_market_data(config, store, clock, show_progress=False)
        service = CorrService(store, market, build_evaluator(config), clock=clock)
        for chat in chats:
            service.subscribers.subscribe(
                chat, kind="private", title="", thread_id=None, now=clock()
            )
        api = bot_class(
            TOKEN,
            base_url=server.base_url,
            base_file_url=server.base_file_url,
            rate_limiter=limiter,
        )
        async with api:
            sender = Sender(
                api,
                store,
                service.now,
                max_attempts=max_attempts,
                concurrency=concurrency,
                **sender_options,
            )
            yield Rig(server, store, service, sender, clock, limiter)
            await sender.stop(grace=5.0)
        await service.close()


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(seed=11) as fake:
        yield fake


#: How long after a 429 a request released before the bot heard of it may still arrive.
IN_FLIGHT = 0.15


def _sends_after(server: FakeTelegram, index: int) -> list[float]:
    """Arrival times of the sendMessage requests received after request ``index``."""
    return [r.time for r in server.requests[index + 1 :] if r.method == "sendMessage"]


def _refusals(server: FakeTelegram) -> list[int]:
    """Indexes (into server.requests) of sendMessage requests answered 429."""
    return [
        i for i, r in enumerate(server.requests) if r.method == "sendMessage" and r.status == 429
    ]


# ---- the real bot under a storm ----------------------------------------------------------


async def _settle_bot(bot: RunningBot, within: float = 40.0) -> None:
    """Wait until the running bot's Sender settled every delivery, skipping backoffs."""

    def settled() -> bool:
        if not _unsettled(bot.store):
            return True
        if not _in_flight(bot.store):
            _jump_to_next_due(bot.store, bot.clock)
        return False

    await until(settled, within, "every delivery sent, failed or dropped")


async def test_storm_of_5xx_429_and_blocks_delivers_each_alert_once(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """Under 10% 5xx, a 429 burst and blocked chats, every reachable chat gets one copy."""
    async with running_bot(tmp_path, server=server, delivery={"max_attempts": 8}) as bot:
        for chat in CHATS:
            bot.store.subscribers.subscribe(
                chat, kind="private", title="", thread_id=None, now=bot.clock()
            )
        for chat in BLOCKED:
            bot.server.block(chat)
        bot.server.error_rate = 0.1
        bot.server.burst_429(3, retry_after=1)
        _record_alert(bot.store, bot.clock())
        await _settle_bot(bot)
        deliveries = _deliveries(bot.store)
        active = {
            int(str(r[0])): int(str(r[1]))
            for r in bot.store.query("SELECT chat_id, active FROM chats")
        }
        assert _unsettled(bot.store) == 0
    copies = _alert_copies(bot.server)
    reachable = set(CHATS) - BLOCKED
    assert copies == dict.fromkeys(reachable, 1), "one copy per reachable chat, none elsewhere"
    assert {c for c, (status, _, _) in deliveries.items() if status == "sent"} == reachable
    for chat in BLOCKED:
        assert active[chat] == 0
        status, _, error = deliveries[chat]
        assert status == "dropped"
        assert "forbidden" in str(error)
    errors = [r for r in bot.server.calls("sendMessage") if r.status >= 500]
    assert errors, "the seeded fake must have thrown some 5xx"
    refusals = _refusals(bot.server)
    assert len(refusals) == 3
    # The limiter paused everyone for retry_after once the first 429 reached it. A request it
    # released before that answer came back (one gap of 1/28 s, longer on a loaded machine)
    # was already on its way; nothing may leave after that until retry_after is over.
    first = refusals[0]
    after = [t - bot.server.requests[first].time for t in _sends_after(bot.server, first)]
    assert [t for t in after if IN_FLIGHT < t < 0.95] == [], after[:5]


# ---- 429: the limiter obeys retry_after --------------------------------------------------


async def test_every_429_is_followed_by_retry_after_of_silence(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """After each 429 in a burst, nothing is sent to Telegram for retry_after seconds."""
    async with sender_rig(tmp_path, server) as rig:
        server.burst_429(3, retry_after=1)
        rig.queue_alert()
        await rig.settle()
    assert _alert_copies(server) == dict.fromkeys(CHATS, 1)
    refusals = _refusals(server)
    assert len(refusals) == 3
    gaps = [min(_sends_after(server, i)) - server.requests[i].time for i in refusals]
    assert min(gaps) >= 0.95, f"seconds from each 429 to the next send: {gaps}"


async def test_429_waits_are_not_counted_as_attempts(tmp_path: Path, server: FakeTelegram) -> None:
    """A delivery refused by 429 more often than max_attempts still arrives, once."""
    async with sender_rig(tmp_path, server, chats=(1,), max_attempts=2) as rig:
        server.burst_429(3, retry_after=1)
        rig.queue_alert()
        await rig.settle()
        [(status, attempts, _)] = _deliveries(rig.store).values()
    assert status == "sent"
    assert attempts == 1
    assert len(_refusals(server)) == 3
    assert _alert_copies(server) == {1: 1}
    assert rig.limiter.rejections == 3


# ---- timeouts ----------------------------------------------------------------------------


async def test_timeouts_without_delivery_are_retried_to_exactly_one_copy(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """Client timeouts where Telegram kept nothing are retried: one copy per chat."""
    server.timeout_rate, server.timeout_delay = 0.15, 1.0
    async with sender_rig(tmp_path, server, bot_class=ShortTimeoutBot) as rig:
        rig.queue_alert()
        await rig.settle()
        deliveries = _deliveries(rig.store)
    assert _alert_copies(server) == dict.fromkeys(CHATS, 1)
    assert {status for status, _, _ in deliveries.values()} == {"sent"}
    retried = [chat for chat, (_, attempts, _) in deliveries.items() if attempts > 1]
    assert retried, "the seeded fake must have timed some requests out"


async def test_ambiguous_timeouts_may_duplicate_but_never_lose(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """When Telegram kept a timed-out message, the retry may duplicate it: at most once."""
    server.timeout_rate, server.timeout_delay, server.deliver_on_timeout = 0.15, 1.0, True
    async with sender_rig(tmp_path, server, bot_class=ShortTimeoutBot) as rig:
        rig.queue_alert()
        await rig.settle()
        deliveries = _deliveries(rig.store)
    copies = _alert_copies(server)
    assert set(copies) == set(CHATS), "nothing lost"
    assert {status for status, _, _ in deliveries.values()} == {"sent"}
    for chat, count in copies.items():
        assert count <= deliveries[chat][1], "a copy per attempt at most"
    assert max(copies.values()) == 2, "the seeded fake duplicates some, none twice"


# ---- errors that are not worth retrying, and the retry budget ----------------------------


async def test_bad_request_fails_at_once_with_its_error(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """A 400 other than 'chat not found' is not retried: 'failed', reason kept, chat kept."""
    server.bad_request(2, "message thread not found")
    async with sender_rig(tmp_path, server, chats=(1, 2)) as rig:
        rig.queue_alert()
        report = await rig.sender.drain(within=1.5)
        assert _unsettled(rig.store) == 0
        deliveries = _deliveries(rig.store)
        chat = rig.service.subscribers.get(2)
    assert deliveries[2][:2] == ("failed", 1)
    assert "bad request" in str(deliveries[2][2])
    assert "message thread not found" in str(deliveries[2][2]).lower()
    assert len([r for r in server.calls("sendMessage") if r.params["chat_id"] == 2]) == 1
    assert chat is not None
    assert chat.active, "a bad request says nothing about the chat"
    assert deliveries[1][0] == "sent"
    assert (report.sent, report.failed, report.retried) == (1, 1, 0)


async def test_chat_not_found_deactivates_and_drops(tmp_path: Path, server: FakeTelegram) -> None:
    """400 'chat not found' is treated like a block: chat deactivated, delivery dropped."""
    server.chat_not_found(2)
    async with sender_rig(tmp_path, server, chats=(1, 2)) as rig:
        rig.queue_alert()
        await rig.sender.drain(within=1.5)
        deliveries = _deliveries(rig.store)
        chat = rig.service.subscribers.get(2)
    assert deliveries[2][0] == "dropped"
    assert chat is not None
    assert not chat.active
    assert chat.deactivated_reason == "chat not found"
    assert deliveries[1][0] == "sent"


async def test_transient_errors_give_up_after_max_attempts(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """A delivery that keeps meeting 5xx is tried max_attempts times, then 'failed'."""
    server.error_rate = 1.0
    async with sender_rig(tmp_path, server, chats=(1,), max_attempts=3) as rig:
        rig.queue_alert()
        await rig.settle()
        [(status, attempts, error)] = _deliveries(rig.store).values()
        chat = rig.service.subscribers.get(1)
    assert (status, attempts) == ("failed", 3)
    assert "gave up after 3 attempts" in str(error)
    assert len(server.calls("sendMessage")) == 3
    assert server.sent == []
    assert chat is not None
    assert chat.active


# ---- episodes: a follow-up is a silent reply to the opening ----------------------------------

EPISODE = Alert(AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 8, 5), 0.62, 0.18, 3.4)
FOLLOW_UP = Alert(
    AlertKind.REGIME,
    Pair("BTC", "PSCT"),
    30,
    date(2024, 8, 9),
    0.74,
    0.62,
    3.9,
    "linked",
    "coupled",
    notify=False,
    episode=EPISODE.key,
)


def _record(store: Store, now: Any, alert: Alert) -> None:
    """Record ``alert`` as the daily job does, titled with its key."""
    message = Message(title=alert.key, lead="Test alert.", footer="x")
    store.record_check([(alert, message.to_json())], window=30, states={}, snapshot=None, now=now)


def _statuses(store: Store) -> list[str]:
    """The status of every delivery, in the order they were queued."""
    return [str(row[0]) for row in store.query("SELECT status FROM deliveries ORDER BY id")]


def _copies(server: FakeTelegram, alert: Alert) -> dict[int, list[Any]]:
    """What each chat received of ``alert``."""
    copies: dict[int, list[Any]] = {}
    for sent in server.sent:
        if sent.text and alert.key in sent.text:
            copies.setdefault(sent.chat_id, []).append(sent)
    return copies


async def test_a_follow_up_is_a_silent_reply_to_the_opening_in_the_chats_that_got_it(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """Chats that got the opening get the follow-up as a silent reply; later chats nothing."""
    async with sender_rig(tmp_path, server, chats=(1, 2, 3)) as rig:
        rig.service.subscribers.update_settings(3, regimes=Level.OFF, now=rig.clock())
        rig.queue_alert()  # an earlier alert: the opening is not each chat's first message
        await rig.settle()
        _record(rig.store, rig.clock(), EPISODE)
        await rig.settle()
        rig.service.subscribers.subscribe(4, kind="private", title="", thread_id=None, now=START)
        _record(rig.store, rig.clock(), FOLLOW_UP)
        await rig.settle()
        statuses = set(_statuses(rig.store))
    openings = {chat: sent for chat, [sent] in _copies(server, EPISODE).items()}
    replies = {chat: sent for chat, [sent] in _copies(server, FOLLOW_UP).items()}
    assert statuses == {"sent"}
    assert sorted(openings) == [1, 2, 3]
    assert not any(sent.disable_notification for sent in openings.values())
    assert sorted(replies) == [1, 2], "3 turned band follow-ups off, 4 never saw the opening"
    for chat, reply in replies.items():
        opening = openings[chat].message_id
        assert opening > 1
        assert reply.disable_notification
        assert reply.reply_to_message_id == opening
        assert reply.reply_parameters == {
            "message_id": opening,
            "allow_sending_without_reply": True,
        }
        assert server.messages[chat, reply.message_id]["reply_to_message"]["message_id"] == opening


async def test_a_follow_up_still_goes_when_the_opening_was_deleted(
    tmp_path: Path, server: FakeTelegram
) -> None:
    """The chat deleted the opening: the follow-up arrives anyway, as a plain silent message."""
    async with sender_rig(tmp_path, server, chats=(1,)) as rig:
        _record(rig.store, rig.clock(), EPISODE)
        await rig.settle()
        [opening] = server.sent_to(1)
        server.delete_message(1, opening.message_id)
        _record(rig.store, rig.clock(), FOLLOW_UP)
        await rig.settle()
        statuses = _statuses(rig.store)
        with pytest.raises(BadRequest, match=r"(?i)message to be replied not found"):
            await rig.sender._bot.send_message(  # without the flag Telegram refuses it
                1, "reply", reply_parameters=ReplyParameters(opening.message_id)
            )
    assert statuses == ["sent", "sent"]
    [reply] = _copies(server, FOLLOW_UP)[1]
    assert reply.disable_notification
    assert reply.reply_to_message_id is None
    assert reply.reply_parameters == {
        "message_id": opening.message_id,
        "allow_sending_without_reply": True,
    }
    assert "reply_to_message" not in server.messages[1, reply.message_id]
