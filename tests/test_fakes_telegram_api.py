"""The fake Telegram server against the real python-telegram-bot stack (Bot, Application)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dtm
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.request import HTTPXRequest

from tests.fakes.telegram_api import TOKEN, FakeTelegram

GROUP = -1001234567890
USER = 4242
App = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture(autouse=True)
def _timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns (an error here) when RetryAfter is built unless this opt-in is set.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


def _bot(server: FakeTelegram, token: str = TOKEN, read_timeout: float = 2.0) -> Bot:
    return Bot(
        token,
        base_url=server.base_url,
        base_file_url=server.base_file_url,
        request=HTTPXRequest(read_timeout=read_timeout, connect_timeout=1.0),
    )


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def _running_app(server: FakeTelegram, *handlers: object) -> App:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .build()
    )
    for handler in handlers:
        app.add_handler(handler)  # type: ignore[arg-type]
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=dtm.timedelta(seconds=5))
    return app


async def _stop_app(app: App) -> None:
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


async def test_get_me_returns_the_bot_user(server: FakeTelegram) -> None:
    """A getMe call yields a bot User with the getMe-only fields PTB reads."""
    async with _bot(server) as bot:
        me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "corr_test_bot")
    assert me.can_join_groups is True
    assert server.calls("getMe")


async def test_send_message_round_trip_records_values(server: FakeTelegram) -> None:
    """A sendMessage call returns a full Message and records HTML, silence and topic."""
    async with _bot(server) as bot:
        message = await bot.send_message(
            GROUP,
            "<b>r</b> = 0.82 &amp; rising",
            parse_mode=ParseMode.HTML,
            disable_notification=True,
            message_thread_id=7,
        )
    assert message.chat.id == GROUP
    assert message.chat.type == "supergroup"
    assert message.text == "r = 0.82 & rising"
    assert message.message_thread_id == 7
    [sent] = server.sent_to(GROUP)
    assert sent.text == "<b>r</b> = 0.82 &amp; rising"
    assert (sent.parse_mode, sent.disable_notification, sent.message_thread_id) == (
        "HTML",
        True,
        7,
    )
    [request] = server.calls("sendMessage")
    assert request.params["chat_id"] == GROUP
    assert request.params["disable_notification"] is True


async def test_send_photo_uploads_multipart_bytes(server: FakeTelegram) -> None:
    """The multipart sendPhoto upload arrives intact and the Message has photo sizes."""
    png = _png(320, 200)
    async with _bot(server) as bot:
        message = await bot.send_photo(USER, png, caption="chart <i>7d</i>", parse_mode="HTML")
    assert message.caption == "chart 7d"
    assert message.photo[-1].width == 320
    assert message.photo[-1].height == 200
    [sent] = server.sent
    assert sent.photo == png
    assert sent.text == "chart <i>7d</i>"
    assert server.calls("sendPhoto")[0].files["photo"] == png


async def test_unparsable_html_is_a_bad_request(server: FakeTelegram) -> None:
    """A bare '<' under parse_mode HTML is refused as Telegram does."""
    async with _bot(server) as bot:
        with pytest.raises(BadRequest, match=r"(?i)can.t parse entities"):
            await bot.send_message(USER, "r < 0.5", parse_mode=ParseMode.HTML)
    assert server.sent == []


async def test_application_replies_to_command(server: FakeTelegram) -> None:
    """A polling Application's CommandHandler answers an offered /corr@bot command."""

    async def corr(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"corr {' '.join(context.args or [])}")

    app = await _running_app(server, CommandHandler("corr", corr))
    try:
        server.send_command(
            "/corr@corr_test_bot BTC 30d", chat_id=GROUP, user_id=USER, chat_type="supergroup"
        )
        [reply] = await server.wait_for_reply(GROUP, timeout=5)
    finally:
        await _stop_app(app)
    assert reply.text == "corr BTC 30d"
    assert server.pending_updates == []  # the final getUpdates confirmed it


async def test_callback_query_is_answered(server: FakeTelegram) -> None:
    """A pressed button reaches a CallbackQueryHandler and answerCallbackQuery is recorded."""
    pressed: list[str | None] = []

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        pressed.append(query.data)
        await query.answer("ok")
        await query.edit_message_text(f"chose {query.data}")

    async with _bot(server) as bot:
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("7d", callback_data="w7")]])
        menu = await bot.send_message(USER, "window?", reply_markup=keyboard)
    app = await _running_app(server, CallbackQueryHandler(on_press))
    try:
        server.press_button("w7", chat_id=USER, message_id=menu.message_id)
        for _ in range(100):
            if server.edits:
                break
            await asyncio.sleep(0.05)
    finally:
        await _stop_app(app)
    assert pressed == ["w7"]
    [answer] = server.calls("answerCallbackQuery")
    assert answer.params["text"] == "ok"
    assert server.edits[0].text == "chose w7"


async def test_get_updates_long_poll_and_offset(server: FakeTelegram) -> None:
    """A getUpdates call waits for a late update and drops it once the offset confirms it."""
    async with _bot(server) as bot:
        asyncio.get_running_loop().call_later(0.2, server.send_command, "/start")
        updates = await bot.get_updates(timeout=5)
        assert [u.message.text for u in updates if u.message] == ["/start"]
        assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert server.pending_updates == []


async def test_global_flood_control_raises_retry_after() -> None:
    """35 quick sends to different chats: some are refused with RetryAfter, not delivered."""
    async with FakeTelegram(flood_control=True) as server, _bot(server) as bot:
        refused: list[RetryAfter] = []
        for chat in range(1, 36):
            try:
                await bot.send_message(chat, "hi")
            except RetryAfter as exc:
                refused.append(exc)
    assert refused
    assert server.rejected_429 == len(refused)
    assert len(server.sent) == 35 - len(refused)
    assert refused[0].retry_after == dtm.timedelta(seconds=1)


async def test_private_chat_flood_control() -> None:
    """Two quick sends to one private chat: the second is 429."""
    async with FakeTelegram(flood_control=True) as server, _bot(server) as bot:
        await bot.send_message(USER, "one")
        with pytest.raises(RetryAfter):
            await bot.send_message(USER, "two")
    assert [m.text for m in server.sent] == ["one"]


async def test_burst_429_refuses_the_next_sends(server: FakeTelegram) -> None:
    """burst_429 answers the next N sends with the given retry_after."""
    server.burst_429(2, retry_after=3)
    async with _bot(server) as bot:
        for _ in range(2):
            with pytest.raises(RetryAfter) as caught:
                await bot.send_message(USER, "x")
            assert caught.value.retry_after == dtm.timedelta(seconds=3)
        await bot.send_message(USER, "through")
    assert [m.text for m in server.sent] == ["through"]


async def test_blocked_chat_is_forbidden(server: FakeTelegram) -> None:
    """A blocked chat raises Forbidden."""
    server.block(USER)
    async with _bot(server) as bot:
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(USER, "hi")


async def test_chat_not_found_is_bad_request(server: FakeTelegram) -> None:
    """An unknown chat raises BadRequest."""
    server.chat_not_found(USER)
    async with _bot(server) as bot:
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(USER, "hi")


async def test_migrated_group_raises_chat_migrated(server: FakeTelegram) -> None:
    """A migrated group raises ChatMigrated with the new supergroup id."""
    server.migrate(-4242, GROUP)
    async with _bot(server) as bot:
        with pytest.raises(ChatMigrated) as caught:
            await bot.send_message(-4242, "hi")
    assert caught.value.new_chat_id == GROUP


async def test_server_error_is_network_error() -> None:
    """error_rate=1 answers 500/502, which PTB raises as NetworkError."""
    async with FakeTelegram(error_rate=1.0, seed=3) as server, _bot(server) as bot:
        for _ in range(4):
            with pytest.raises(NetworkError):
                await bot.send_message(USER, "hi")
    assert server.sent == []
    assert {r.status for r in server.calls("sendMessage")} <= {500, 502}


async def test_random_faults_replay_with_the_same_seed() -> None:
    """The same seed gives the same sequence of random failures."""
    outcomes: list[list[int]] = []
    for _ in range(2):
        async with FakeTelegram(error_rate=0.5, seed=11) as server, _bot(server) as bot:
            for chat in range(1, 9):
                with contextlib.suppress(NetworkError):
                    await bot.send_message(chat, "x")
        outcomes.append([r.status for r in server.calls("sendMessage")])
    assert outcomes[0] == outcomes[1]
    assert 200 in outcomes[0]
    assert set(outcomes[0]) - {200}


async def test_slow_answer_times_out_but_is_delivered() -> None:
    """timeout_rate with deliver_on_timeout: PTB gets TimedOut yet the message arrived."""
    async with (
        FakeTelegram(timeout_rate=1.0, timeout_delay=1.0, deliver_on_timeout=True) as server,
        _bot(server, read_timeout=0.2) as bot,
    ):
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "late")
    assert [m.text for m in server.sent] == ["late"]


async def test_conflict_flag_raises_conflict(server: FakeTelegram) -> None:
    """conflict=True makes get_updates raise Conflict."""
    server.conflict = True
    async with _bot(server) as bot:
        with pytest.raises(Conflict, match="only one bot instance"):
            await bot.get_updates(timeout=0)


async def test_unknown_token_is_invalid(server: FakeTelegram) -> None:
    """A token the server does not know raises InvalidToken on initialize."""
    bot = _bot(server, token="654321:WRONG-token-abcdefghijklmnopqrstuvwx")
    try:
        with pytest.raises(InvalidToken):
            await bot.initialize()
    finally:
        await bot.shutdown()
    assert server.requests[-1].status == 401


async def test_commands_and_chat_member(server: FakeTelegram) -> None:
    """setMyCommands/getMyCommands round-trip and getChatMember reports configured status."""
    server.set_member_status(GROUP, USER, "administrator")
    async with _bot(server) as bot:
        await bot.set_my_commands([("corr", "correlation report")])
        commands = await bot.get_my_commands()
        member = await bot.get_chat_member(GROUP, USER)
        admins = await bot.get_chat_administrators(GROUP)
        chat = await bot.get_chat(GROUP)
    assert [(c.command, c.description) for c in commands] == [("corr", "correlation report")]
    assert member.status == "administrator"
    assert [a.user.id for a in admins] == [USER]
    assert chat.type == "supergroup"
