"""Thin command handlers: parse, ask the service, format, reply.

Replies are HTML with everything user-visible escaped. Commands work in groups
(``/corr@bot``); there, only chat administrators may subscribe, unsubscribe or change
settings. Admin commands check the Telegram *user* id against ``telegram.admins``.

Every reply goes through :func:`_send`: a 429 waits (the rate limiter pauses all sending
for ``retry_after``) and is retried, a 5xx or timeout is retried a few times, so a passing
flood or hiccup does not lose the answer.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError
from telegram.ext import ContextTypes

from bot.core.messages import snapshot_message
from bot.core.store.chats import Chat, Level
from bot.tg.formatting import (
    alerts_list_html,
    escape,
    render_html,
    split_html,
)
from bot.tg.jobs import run_daily_job, status_html
from bot.tg.runtime import Runtime, runtime
from bot.tg.texts import HELP, USAGE, about_text, help_text

__all__ = [
    "about",
    "alerts",
    "chart",
    "corr",
    "help_command",
    "on_settings_button",
    "runnow",
    "settings",
    "status",
    "subscribe",
    "unknown",
    "unsubscribe",
]

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
MAX_ALERTS = 20
CHART_YEARS = 2
#: Rendered charts kept (by days, pair, snapshot date and window), least recently used out.
CHART_CACHE_SIZE = 8
#: Tries of one reply after 5xx or timeouts, and after 429s (each waits out retry_after).
REPLY_ATTEMPTS = 3
REPLY_FLOOD_ATTEMPTS = 5
_REPLY_BACKOFF_SECONDS = 0.5

T = TypeVar("T")


async def _send(send: Callable[[], Awaitable[T]]) -> T:
    """``send()`` until Telegram takes it: 429s wait and retry, 5xx/timeouts retry briefly.

    The limiter has already paused every send for the ``retry_after`` of a 429, so the
    retry simply queues behind that pause. Bad requests and refusals (403) are not retried.
    A timed-out reply may have arrived: a rare duplicate answer beats a lost one.
    """
    floods = failures = 0
    while True:
        try:
            return await send()
        except RetryAfter:
            floods += 1
            if floods >= REPLY_FLOOD_ATTEMPTS:
                raise
        except NetworkError as exc:
            if isinstance(exc, BadRequest):
                raise
            failures += 1
            if failures >= REPLY_ATTEMPTS:
                raise
            log.info("reply failed (%s); retrying", exc.message)
            await asyncio.sleep(_REPLY_BACKOFF_SECONDS * failures)


async def _reply(update: Update, html: str) -> None:
    message = update.effective_message
    if message is None:
        return
    for chunk in _chunks(html):
        await _send(functools.partial(message.reply_html, chunk, do_quote=False))


def _chunks(html: str) -> list[str]:
    return split_html(html) or ["(empty)"]


def _count(text: str) -> int | None:
    """A plain ASCII whole number of at most six digits, else None.

    ``str.isdigit`` accepts superscripts ("²") that ``int`` refuses, and ``int`` refuses
    strings of thousands of digits: both would crash the handler instead of showing usage.
    """
    if text.isascii() and text.isdecimal() and len(text) <= 6:
        return int(text)
    return None


async def _usage(update: Update, command: str, problem: str = "") -> None:
    lead = f"{escape(problem)}\n" if problem else ""
    await _reply(update, f"{lead}Usage: {escape(USAGE[command])}")


async def _may_manage(update: Update, context: Context) -> bool:
    """In private chats anyone; in groups only administrators (anonymous ones included).

    For a button press the person to check is the presser (``callback_query.from_user``):
    the message carrying the keyboard is the bot's own, so its ``sender_chat`` says nothing
    about who pressed. Only a command *written* on behalf of the group (an anonymous
    administrator's message) is trusted by its ``sender_chat``.
    """
    chat, user = update.effective_chat, update.effective_user
    if chat is None or chat.type == ChatType.PRIVATE:
        return True
    query = update.callback_query
    message = update.message if query is None else None
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id  # an anonymous administrator
    if query is not None:
        user = query.from_user
    if user is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except TelegramError:
        log.warning("could not check administrators of chat %s", chat.id)
        return False
    return member.status in {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER}


def _too_many_args(context: Context, allowed: int) -> bool:
    return len(context.args or ()) > allowed


async def subscribe(update: Update, context: Context) -> None:
    """/start and /subscribe: subscribe the chat (to the forum topic it was sent from)."""
    rt, chat, message = runtime(context), update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    if not await _may_manage(update, context):
        await _reply(update, "In a group, only its administrators can subscribe it to alerts.")
        return
    thread = message.message_thread_id if message.is_topic_message else None
    title = chat.title or chat.full_name or ""
    new = rt.service.subscribers.subscribe(
        chat.id, kind=chat.type, title=title, thread_id=thread, now=rt.service.now()
    )
    state = "Subscribed." if new else "Already subscribed."
    await _reply(
        update,
        f"{escape(HELP)}\n\n<b>{state}</b> You will hear when the link spikes or changes "
        "regime. /settings chooses what arrives and how; /stop ends it.",
    )


async def unsubscribe(update: Update, context: Context) -> None:
    """/stop and /unsubscribe: stop alerts, keeping the chat's settings."""
    rt, chat = runtime(context), update.effective_chat
    if chat is None:
        return
    if not await _may_manage(update, context):
        await _reply(update, "In a group, only its administrators can unsubscribe it.")
        return
    was = rt.service.subscribers.deactivate(chat.id, reason="unsubscribed", now=rt.service.now())
    text = "Unsubscribed. Your settings are kept for when you come back with /subscribe."
    await _reply(update, text if was else "This chat is not subscribed. /subscribe to start.")


async def corr(update: Update, context: Context) -> None:
    """/corr [SYMBOL]: the latest snapshot, from the store, never waiting on an exchange."""
    rt = runtime(context)
    if _too_many_args(context, 1):
        await _usage(update, "corr")
        return
    snapshot = rt.service.snapshot()
    if snapshot is None:
        await _reply(update, _not_ready(rt))
        return
    symbol = (context.args or [snapshot.crypto[0]])[0].upper()
    if symbol not in snapshot.crypto:
        await _usage(update, "corr", f"Unknown symbol {symbol}; try {', '.join(snapshot.crypto)}.")
        return
    # The freshness line joins before splitting, so no chunk can outgrow Telegram's limit.
    chunks = split_html(render_html(snapshot_message(snapshot, symbol)) + _freshness(rt))
    await _reply_chunks(update, chunks)


async def _reply_chunks(update: Update, chunks: list[str]) -> None:
    message = update.effective_message
    if message is None:
        return
    for chunk in chunks:
        await _send(functools.partial(message.reply_html, chunk, do_quote=False))


def _not_ready(rt: Runtime) -> str:
    when = rt.schedule.next_run(rt.service.now())
    local = when.strftime("%A %Y-%m-%d %H:%M %Z")
    return (
        "The first numbers are not computed yet. They will be ready after the next run, "
        f"{escape(local)}."
    )


def _freshness(rt: Runtime) -> str:
    last = rt.service.last_run()
    if last is None:
        return ""
    age = rt.service.now() - last.finished_at
    hours = int(age.total_seconds() // 3600)
    note = "" if last.ok else " (some data was missing: numbers may lag)"
    return f"\n<i>Updated {hours} h ago{escape(note)}.</i>"


async def chart(update: Update, context: Context) -> None:
    """/chart [WINDOW]: the headline pair's rolling correlation as a photo."""
    rt, message = runtime(context), update.effective_message
    windows = rt.config.analysis.windows
    args = context.args or []
    window = _count(args[0]) if len(args) == 1 else None
    if message is None or len(args) > 1 or (args and window is None):
        await _usage(update, "chart")
        return
    if window is not None and window not in windows:
        await _usage(
            update, "chart", f"Window {window} is not computed; try {', '.join(map(str, windows))}."
        )
        return
    snapshot = rt.service.snapshot()
    if snapshot is None:
        await _reply(update, _not_ready(rt))
        return
    pair = rt.config.alert_pairs[0]
    # Keyed by everything the picture depends on, so alternating windows hit the cache.
    key: tuple[object, ...] = (CHART_YEARS, str(pair), snapshot.as_of.isoformat(), window)
    photo = rt.charts.get(key)
    if photo is None:
        photo = await _render_chart(rt, window)
        rt.charts[key] = photo
        while len(rt.charts) > CHART_CACHE_SIZE:
            rt.charts.popitem(last=False)
    rt.charts.move_to_end(key)
    shown = "all windows" if window is None else f"{window} sessions"
    caption = f"{pair}, {shown}, as of {snapshot.as_of}"
    await _send(lambda: message.reply_photo(photo, caption=caption, do_quote=False))


async def _render_chart(rt: Runtime, window: int | None) -> bytes:
    # matplotlib costs about half a second to import: paid by the first /chart, not start-up.
    from bot.charts import correlation_chart

    analytics = await rt.service.analytics()
    pair = rt.config.alert_pairs[0]
    since = rt.service.now().date() - dt.timedelta(days=365 * CHART_YEARS)
    stored = rt.service.recent_alerts(200)
    return await asyncio.to_thread(
        correlation_chart,
        analytics,
        pair,
        bands=rt.bands,
        alerts=[s.alert for s in stored],
        since=since,
        labels=rt.config.labels,
        windows=None if window is None else [window],
    )


async def alerts(update: Update, context: Context) -> None:
    """/alerts [N]: the last N alerts, newest first."""
    rt, args = runtime(context), context.args or []
    wanted = _count(args[0]) if len(args) == 1 else None
    if len(args) > 1 or (args and not (wanted is not None and 1 <= wanted <= MAX_ALERTS)):
        await _usage(update, "alerts")
        return
    await _reply(update, alerts_list_html(rt.service.recent_alerts(wanted or 5)))


_SETTING_NAMES = {
    "spikes": "Spike and decoupling alerts",
    "regimes": "Regime alerts",
    "digest": "Daily digest",
}


def _settings_text(chat: Chat) -> str:
    state = "subscribed" if chat.active else "not subscribed (/subscribe)"
    return (
        f"<b>Settings for this chat</b> ({escape(state)})\n"
        f"{_SETTING_NAMES['spikes']}: <b>{chat.spikes.value}</b>\n"
        f"{_SETTING_NAMES['regimes']}: <b>{chat.regimes.value}</b>\n"
        f"{_SETTING_NAMES['digest']}: <b>{'on' if chat.digest else 'off'}</b>\n"
        "<i>silent: delivered without a notification sound</i>"
    )


def _keyboard(chat: Chat) -> InlineKeyboardMarkup:
    def button(label: str, setting: str, value: str, current: str) -> InlineKeyboardButton:
        mark = "• " if value == current else ""
        return InlineKeyboardButton(f"{mark}{label}", callback_data=f"set:{setting}:{value}")

    rows = [
        [button(f"Spikes {v}", "spikes", v, chat.spikes.value) for v in ("on", "silent", "off")],
        [button(f"Regimes {v}", "regimes", v, chat.regimes.value) for v in ("on", "silent", "off")],
        [button(f"Digest {v}", "digest", v, "on" if chat.digest else "off") for v in ("on", "off")],
    ]
    return InlineKeyboardMarkup(rows)


def _apply_setting(rt: Runtime, chat_id: int, setting: str, value: str) -> Chat | None:
    """Validate and store one setting; ``None`` when the words are not a valid setting."""
    now = rt.service.now()
    subscribers = rt.service.subscribers
    if setting in {"spikes", "regimes"} and value in {level.value for level in Level}:
        return subscribers.update_settings(chat_id, now=now, **{setting: Level(value)})  # type: ignore[arg-type]
    if setting == "digest" and value in {"on", "off"}:
        return subscribers.update_settings(chat_id, digest=value == "on", now=now)
    return None


async def settings(update: Update, context: Context) -> None:
    """/settings [WHAT VALUE]: show the chat's choices with buttons, or set one by text."""
    rt, chat, message = runtime(context), update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    args = [a.lower() for a in context.args or []]
    known = rt.service.subscribers.get(chat.id)
    if known is None:
        await _reply(update, "This chat is not subscribed yet: /subscribe first, then choose here.")
        return
    if args:
        if len(args) != 2:
            await _usage(update, "settings")
            return
        if not await _may_manage(update, context):
            await _reply(update, "In a group, only its administrators can change settings.")
            return
        updated = _apply_setting(rt, chat.id, args[0], args[1])
        if updated is None:
            await _usage(update, "settings")
            return
        known = updated
    text, keyboard = _settings_text(known), _keyboard(known)
    await _send(lambda: message.reply_html(text, reply_markup=keyboard, do_quote=False))


async def on_settings_button(update: Update, context: Context) -> None:
    """A settings button: only for this chat, and in groups only for administrators."""
    rt, query, chat = runtime(context), update.callback_query, update.effective_chat
    if query is None or chat is None:
        return
    parts = (query.data or "").split(":")
    if len(parts) != 3 or parts[0] != "set":
        await query.answer("Unknown button.")
        return
    if not await _may_manage(update, context):
        await query.answer("Only group administrators can change settings.", show_alert=True)
        return
    updated = _apply_setting(rt, chat.id, parts[1], parts[2])
    if updated is None:
        await query.answer("Subscribe first, or that setting is unknown.")
        return
    await query.answer(f"{parts[1]}: {parts[2]}")
    try:
        await query.edit_message_text(
            _settings_text(updated), parse_mode=ParseMode.HTML, reply_markup=_keyboard(updated)
        )
    except TelegramError:  # "message is not modified" and the like: the setting is saved
        log.debug("settings message %s not edited", query.message and query.message.message_id)


async def help_command(update: Update, context: Context) -> None:
    """/help: every command and its usage."""
    rt, user = runtime(context), update.effective_user
    admin = rt.is_admin(user.id if user else None)
    await _reply(update, f"{escape(HELP)}\n{escape(help_text(admin))}")


async def about(update: Update, context: Context) -> None:
    """/about: the method, the data sources and today's evidence on the study, from the store."""
    rt = runtime(context)
    await _reply(update, about_text(rt.config, rt.service.snapshot()))


async def _admin_only(update: Update, context: Context) -> bool:
    user = update.effective_user
    if runtime(context).is_admin(user.id if user else None):
        return True
    await _reply(update, "This command is for the bot's administrators.")
    return False


async def status(update: Update, context: Context) -> None:
    """/status (admins): subscribers, last run, data freshness, next run, version."""
    if await _admin_only(update, context):
        await _reply(update, await asyncio.to_thread(status_html, runtime(context)))


async def runnow(update: Update, context: Context) -> None:
    """/runnow (admins): run the daily job now and deliver what it produces."""
    if not await _admin_only(update, context):
        return
    try:  # the job runs even if Telegram loses the acknowledgement
        await _reply(update, "Running the daily job now...")
    except TelegramError as exc:
        log.warning("/runnow acknowledgement not delivered (%s); running the job", exc.message)
    summary = await run_daily_job(context.application, reason="runnow")
    await _reply(update, summary)


async def unknown(update: Update, context: Context) -> None:
    """Any other command addressed to this bot: say so, with the command list."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split()[0]
    _, _, target = command.partition("@")
    if target and target.lower() != (context.bot.username or "").lower():
        return  # meant for another bot in the group
    rt, user = runtime(context), update.effective_user
    admin = rt.is_admin(user.id if user else None)
    await _reply(
        update, f"Unknown command {escape(command)}. Commands:\n{escape(help_text(admin))}"
    )
