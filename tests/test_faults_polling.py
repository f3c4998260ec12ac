"""Polling and replies under faults: bad updates, floods of commands, 429/5xx, no Telegram.

The real bot (``run_bot``) runs against the fake Bot API (:mod:`tests.fakes.telegram_api`) on a
frozen process clock (:mod:`tests.fakes.bot_harness`); durations below are the fake server's
monotonic timestamps of requests, never the wall clock.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bot.core.store import Store
from bot.present.replies import SLOW_DOWN, SLOW_DOWN_BUTTON
from bot.tg import app, handlers, replying
from bot.tg.app import UPDATES_PER_CHAT
from tests.fakes.bot_harness import ADMIN, START, bot_config, running_bot, until
from tests.fakes.telegram_api import TOKEN, FakeTelegram

USER, OTHER_USER = 1001, 1002
GROUP = -1001234567890


def _undated_message(chat_id: int) -> dict[str, object]:
    """A message python-telegram-bot cannot parse: Telegram always sends ``date``."""
    return {
        "message": {
            "message_id": 1,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Eve"},
            "chat": {"id": chat_id, "type": "private", "first_name": "Eve"},
            "text": "/help",
        }
    }


def _statuses(server: FakeTelegram, method: str) -> list[int | None]:
    return [r.status for r in server.calls(method)]


# ---- 9: an update PTB cannot parse ---------------------------------------------------------


async def test_an_unparsable_update_is_confirmed_and_later_commands_are_answered(
    tmp_path: Path,
) -> None:
    """The bad update is confirmed (the next offset passes it) and the next command answered."""
    async with running_bot(tmp_path, ready=False) as bot:
        bad = bot.server.offer_update(_undated_message(USER))
        bot.server.send_command("/help", chat_id=USER, user_id=USER)
        [reply] = await bot.server.wait_for_reply(USER, timeout=10)
        await until(lambda: bad not in [u["update_id"] for u in bot.server.pending_updates])
    assert "Commands:" in visible_text(reply.text)


async def test_an_unparsable_update_is_logged_once_without_a_polling_storm(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """One warning line for the bad update, and getUpdates keeps its long-polling pace."""
    async with running_bot(tmp_path, ready=False) as bot:
        polls_before = len(bot.server.calls("getUpdates"))
        bad = bot.server.offer_update(_undated_message(USER))
        bot.server.send_command("/help", chat_id=USER, user_id=USER)
        await bot.server.wait_for_reply(USER, timeout=10)
        polls = len(bot.server.calls("getUpdates")) - polls_before
    skipped = [r for r in caplog.records if "cannot read it" in r.getMessage()]
    assert [r.getMessage().split(":")[0] for r in skipped] == [f"skipped update {bad}"]
    assert polls < 10, f"{polls} getUpdates calls to get past one bad update"


async def test_sigterm_after_an_unparsable_update_exits_0(tmp_path: Path) -> None:
    """Stopping after a bad update is a clean stop: status 0."""
    async with running_bot(tmp_path, ready=False) as bot:
        bot.server.offer_update(_undated_message(USER))
        bot.server.send_command("/help", chat_id=USER, user_id=USER)
        await bot.server.wait_for_reply(USER, timeout=10)
        status = await bot.finish()
    assert status == 0


async def test_the_heartbeat_records_when_getupdates_last_returned(tmp_path: Path) -> None:
    """``polled_at`` in the store is the time of a normal getUpdates answer, for health."""
    # The JobQueue's timer runs on real time: the shortest heartbeat keeps the wait short.
    async with running_bot(tmp_path, ready=False, health={"heartbeat_seconds": 5}) as bot:
        await until(lambda: len(bot.server.calls("getUpdates")) >= 3, what="two answered polls")
        bot.clock.advance(timedelta(seconds=5))
        polled = await until(bot.store.meta.polled_at, 15, "polled_at")
        now = bot.clock()
    assert START <= polled <= now


# ---- 10: one chat flooding the bot ---------------------------------------------------------


async def test_a_chat_flooding_commands_does_not_delay_another_chat(tmp_path: Path) -> None:
    """200 commands from one chat; another chat's /help is still answered within 5 s.

    Queued behind them, it would wait about 200 of that chat's 1-second reply spacings.
    """
    async with running_bot(tmp_path, ready=False) as bot:
        for _ in range(200):
            bot.server.send_command("/help", chat_id=USER, user_id=USER)
        other = bot.server.send_command("/help", chat_id=OTHER_USER, user_id=OTHER_USER)
        [reply] = await bot.server.wait_for_reply(OTHER_USER, timeout=15)
        delay = reply.time - bot.server.offered_at[other]
    assert delay < 5.0, f"the other chat waited {delay:.1f} s"


async def test_a_flooding_chat_gets_its_first_answers_and_one_slow_down(tmp_path: Path) -> None:
    """Beyond the per-chat share commands are dropped, with a single "slow down" answer."""
    async with running_bot(tmp_path, ready=False) as bot:
        for _ in range(30):
            bot.server.send_command("/help", chat_id=USER, user_id=USER)
        replies = await bot.server.wait_for_reply(USER, count=UPDATES_PER_CHAT + 1, timeout=15)
        await until(lambda: not bot.server.pending_updates, what="all updates confirmed")
        bot.server.send_command("/about", chat_id=OTHER_USER, user_id=OTHER_USER)
        await bot.server.wait_for_reply(OTHER_USER, timeout=10)  # everything before is done
        texts = [m.text for m in bot.server.sent_to(USER)]
    assert [t for t in texts if t == SLOW_DOWN] == [SLOW_DOWN]
    assert len(texts) == UPDATES_PER_CHAT + 1
    assert sum(t == SLOW_DOWN for t in (r.text for r in replies)) == 1


async def test_every_dropped_button_press_is_answered(tmp_path: Path) -> None:
    """Presses beyond the chat's share get a "too many presses" toast: none keeps spinning."""
    presses = UPDATES_PER_CHAT + 4
    async with running_bot(tmp_path, ready=False) as bot:
        for n in range(presses):
            bot.server.press_button("set:digest:on", chat_id=USER, user_id=USER, message_id=n + 1)
        answers = await until(
            lambda: (
                len(bot.server.calls("answerCallbackQuery")) == presses
                and bot.server.calls("answerCallbackQuery")
            ),
            what="every press answered",
        )
    toasts = [a.params.get("text") for a in answers]
    assert SLOW_DOWN_BUTTON in toasts


async def test_alternating_chart_windows_render_each_chart_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/chart 30, 90, 30, 90: two renders; the cache is keyed by what the chart draws."""
    renders: list[int | None] = []
    render = handlers._render_chart

    async def counting(rt: handlers.Runtime, window: int | None) -> bytes:
        renders.append(window)
        return await render(rt, window)

    monkeypatch.setattr(handlers, "_render_chart", counting)
    async with running_bot(tmp_path) as bot:
        for window in (30, 90, 30, 90):
            bot.server.send_command(f"/chart {window}", chat_id=USER, user_id=USER)
            [photo] = await bot.server.wait_for_reply(USER, timeout=20)
            assert photo.method == "sendPhoto"
    assert renders == [30, 90]


# ---- 11: replies under 429 and 5xx, and the pause across restarts --------------------------


async def test_replies_to_one_chat_are_spaced_by_the_chat_interval(tmp_path: Path) -> None:
    """Three /help in a private chat: replies a second apart, in a group three seconds."""
    async with running_bot(tmp_path, ready=False) as bot:
        for chat, chat_type in ((USER, None), (GROUP, "supergroup")):
            for _ in range(3):
                bot.server.send_command("/help", chat_id=chat, user_id=USER, chat_type=chat_type)
        private = await bot.server.wait_for_reply(USER, count=3, timeout=15)
        group = await bot.server.wait_for_reply(GROUP, count=3, timeout=15)
    for replies, interval in ((private, 1.0), (group, 3.0)):
        times = [m.time for m in replies]
        assert min(b - a for a, b in itertools.pairwise(times)) >= interval


async def test_a_429_on_a_reply_waits_retry_after_then_delivers_it(tmp_path: Path) -> None:
    """The reply refused with 429 is sent again after retry_after, and arrives."""
    async with running_bot(tmp_path, ready=False) as bot:
        bot.server.burst_429(1, retry_after=1)
        bot.server.send_command("/help", chat_id=USER, user_id=USER)
        [reply] = await bot.server.wait_for_reply(USER, timeout=15)
        [refused] = [r for r in bot.server.calls("sendMessage") if r.status == 429]
    assert reply.time - refused.time >= 0.95


async def test_a_5xx_on_a_reply_is_retried(tmp_path: Path) -> None:
    """Two 500s on a reply, then it is delivered: three sendMessage calls, one message."""
    async with running_bot(tmp_path, ready=False) as bot:
        bot.server.burst_5xx(2)
        bot.server.send_command("/help", chat_id=USER, user_id=USER)
        [reply] = await bot.server.wait_for_reply(USER, timeout=15)
    assert "Commands:" in visible_text(reply.text)
    assert _statuses(bot.server, "sendMessage") == [500, 500, 200]


async def test_a_reply_failing_every_attempt_is_given_up(tmp_path: Path) -> None:
    """5xx on every try: the reply is tried REPLY_ATTEMPTS times, then the update fails."""
    async with running_bot(tmp_path, ready=False) as bot:
        bot.server.burst_5xx(replying.REPLY_ATTEMPTS)  # a further try would succeed
        bot.server.send_command("/help", chat_id=USER, user_id=USER)
        await until(lambda: len(bot.server.calls("sendMessage")) >= replying.REPLY_ATTEMPTS)
        bot.server.send_command("/about", chat_id=OTHER_USER, user_id=OTHER_USER)
        await bot.server.wait_for_reply(OTHER_USER, timeout=10)
        to_user = [r for r in bot.server.calls("sendMessage") if r.params["chat_id"] == USER]
    assert len(to_user) == replying.REPLY_ATTEMPTS


async def test_runnow_runs_the_job_even_if_its_first_reply_fails(tmp_path: Path) -> None:
    """The acknowledgement is lost to 5xx on every try; the job still runs and reports."""
    async with running_bot(tmp_path) as bot:
        bot.server.burst_5xx(replying.REPLY_ATTEMPTS)
        bot.server.send_command("/runnow", chat_id=ADMIN, user_id=ADMIN)
        [summary] = await bot.server.wait_for_reply(ADMIN, timeout=30)
    assert "Daily job done" in summary.text


async def test_a_429_pause_is_persisted_in_the_store(tmp_path: Path) -> None:
    """After a 429 the store says until when Telegram asked for silence."""
    async with running_bot(tmp_path, ready=False) as bot:
        bot.server.burst_429(1, retry_after=2)
        bot.server.send_command("/help", chat_id=USER, user_id=USER)
        until_then = await until(bot.store.meta.pause_until, what="the pause")
        now = bot.clock()
        await bot.server.wait_for_reply(USER, timeout=15)
    assert now < until_then <= now + timedelta(seconds=2)


async def test_a_restart_inside_a_429_pause_sends_nothing_until_it_ends(tmp_path: Path) -> None:
    """A pause stored by a previous process holds the first reply until it is over."""
    with Store.open(tmp_path / "bot.sqlite3") as store:
        store.meta.extend_pause(START + timedelta(seconds=3))
    async with running_bot(tmp_path, ready=False) as bot:
        [started] = bot.server.calls("setMyCommands")
        bot.server.send_command("/help", chat_id=USER, user_id=USER)
        [reply] = await bot.server.wait_for_reply(USER, timeout=15)
    assert reply.time - started.time >= 2.5


# ---- 15: Telegram unreachable at start -----------------------------------------------------


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start-up retries of 0.05 s doubling to 0.2 s instead of 1 s to 60 s."""
    monkeypatch.setattr(app, "START_RETRY_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(app, "START_RETRY_MAX_SECONDS", 0.2)


def _unreachable_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("Telegram unreachable")]


@pytest.mark.usefixtures("quick_retries")
async def test_unreachable_telegram_at_start_is_retried_one_line_per_attempt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Connection refused: one readable line per attempt, waits doubling to the cap, then on."""
    async with FakeTelegram() as server:
        await server.go_offline()

        async def come_back() -> None:
            await until(lambda: len(_unreachable_lines(caplog)) >= 4, what="four attempts")
            await server.go_online()

        back = asyncio.create_task(come_back())
        async with running_bot(tmp_path, ready=False, server=server) as bot:
            await back
            assert bot.server.calls("getUpdates")
    lines = _unreachable_lines(caplog)
    waits = [re.search(r"retrying in (\S+) s$", r.getMessage()) for r in lines]
    assert [w and w.group(1) for w in waits[:4]] == ["0.05", "0.1", "0.2", "0.2"]
    assert all("ConnectError" in r.getMessage() for r in lines)
    assert all(r.exc_info is None and r.levelno == logging.WARNING for r in lines)


@pytest.mark.usefixtures("quick_retries")
async def test_no_heartbeat_is_written_while_telegram_is_unreachable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Until Telegram answers, nothing tells `corrbot health` the bot is alive."""
    async with FakeTelegram() as server:
        await server.go_offline()
        config = bot_config(tmp_path, server)
        stop = asyncio.Event()
        task = asyncio.create_task(app.run_bot(config, TOKEN, stop=stop))
        await until(lambda: len(_unreachable_lines(caplog)) >= 3, what="three attempts")
        heartbeat = _stored_heartbeat(Path(config.storage.path))
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert heartbeat is None


def _stored_heartbeat(path: Path) -> datetime | None:
    if not path.exists():  # the store opens only once Telegram answered
        return None
    with Store.open(path) as store:
        return store.meta.heartbeat()


async def test_sigterm_while_telegram_is_unreachable_exits_0(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping during the (here 1 s) wait between attempts is prompt and clean."""
    async with FakeTelegram() as server:
        await server.go_offline()
        stop = asyncio.Event()
        task = asyncio.create_task(app.run_bot(bot_config(tmp_path, server), TOKEN, stop=stop))
        await until(lambda: _unreachable_lines(caplog), what="the first attempt")
        stop.set()
        status = await asyncio.wait_for(task, timeout=5)
    assert status == 0


async def test_a_rejected_token_still_exits_2_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """401 is not "unreachable": exit status 2 on the first answer, no retry."""
    async with FakeTelegram(token="999:another-bots-token") as server:
        status = await asyncio.wait_for(
            app.run_bot(bot_config(tmp_path, server), TOKEN), timeout=10
        )
        attempts = len(server.calls("getMe"))
    assert status == 2
    assert attempts == 1
    assert not _unreachable_lines(caplog)


def visible_text(html: str) -> str:
    """The text without tags (enough for "is this the help text")."""
    return re.sub(r"<[^>]+>", "", html)
