"""Thin command handlers: parse, ask the service, let the presentation word it, reply.

Commands work in groups (``/corr@bot``); there, only chat administrators may subscribe,
unsubscribe or change settings. Every text comes from :mod:`bot.present`; every reply goes
through :mod:`bot.tg.replying`, so a passing flood or hiccup does not lose it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError

from bot.core.status import status_report
from bot.core.store.chats import Chat, Level
from bot.present import replies
from bot.present.alerts import alerts_list_html
from bot.present.corr import snapshot_message
from bot.present.status import status_html
from bot.present.study import about_text
from bot.tg.formatting import render_html, split_html
from bot.tg.jobs import run_daily_job
from bot.tg.replying import Context, admin_only, count, may_manage, reply, reply_chunks, send, usage
from bot.tg.runtime import Runtime, runtime

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

MAX_ALERTS = 20
CHART_YEARS = 2
#: Rendered charts kept (by days, pair, snapshot date and window), least recently used out.
CHART_CACHE_SIZE = 8


def _too_many_args(context: Context, allowed: int) -> bool:
    return len(context.args or ()) > allowed


async def subscribe(update: Update, context: Context) -> None:
    """/start and /subscribe: subscribe the chat (to the forum topic it was sent from)."""
    rt, chat, message = runtime(context), update.effective_chat, update.effective_message
    if chat is None or message is None:
        return
    if not await may_manage(update, context):
        await reply(update, replies.GROUP_SUBSCRIBE_ADMINS_ONLY)
        return
    thread = message.message_thread_id if message.is_topic_message else None
    title = chat.title or chat.full_name or ""
    new = rt.store.subscribers.subscribe(
        chat.id, kind=chat.type, title=title, thread_id=thread, now=rt.service.now()
    )
    await reply(update, replies.subscribed(new))


async def unsubscribe(update: Update, context: Context) -> None:
    """/stop and /unsubscribe: stop alerts, keeping the chat's settings."""
    rt, chat = runtime(context), update.effective_chat
    if chat is None:
        return
    if not await may_manage(update, context):
        await reply(update, replies.GROUP_UNSUBSCRIBE_ADMINS_ONLY)
        return
    was = rt.store.subscribers.deactivate(chat.id, reason="unsubscribed", now=rt.service.now())
    await reply(update, replies.UNSUBSCRIBED if was else replies.NOT_SUBSCRIBED)


async def corr(update: Update, context: Context) -> None:
    """/corr [SYMBOL]: the latest snapshot, from the store, never waiting on an exchange."""
    rt = runtime(context)
    if _too_many_args(context, 1):
        await usage(update, "corr")
        return
    snapshot = rt.service.snapshot()
    if snapshot is None:
        await reply(update, replies.not_ready(rt.schedule.next_run(rt.service.now())))
        return
    symbol = (context.args or [snapshot.crypto[0]])[0].upper()
    if symbol not in snapshot.crypto:
        await usage(update, "corr", replies.unknown_symbol(symbol, snapshot.crypto))
        return
    # The freshness line joins before splitting, so no chunk can outgrow Telegram's limit.
    chunks = split_html(render_html(snapshot_message(snapshot, symbol)) + _freshness(rt))
    await reply_chunks(update, chunks)


def _freshness(rt: Runtime) -> str:
    last = rt.service.last_run()
    if last is None:
        return ""
    return replies.updated_ago(rt.service.now() - last.finished_at, ok=last.ok)


async def chart(update: Update, context: Context) -> None:
    """/chart [WINDOW]: the headline pair's rolling correlation as a photo."""
    rt, message = runtime(context), update.effective_message
    windows = rt.config.analysis.windows
    args = context.args or []
    window = count(args[0]) if len(args) == 1 else None
    if message is None or len(args) > 1 or (args and window is None):
        await usage(update, "chart")
        return
    if window is not None and window not in windows:
        await usage(update, "chart", replies.window_not_computed(window, windows))
        return
    snapshot = rt.service.snapshot()
    if snapshot is None:
        await reply(update, replies.not_ready(rt.schedule.next_run(rt.service.now())))
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
    caption = replies.chart_caption(pair, window, snapshot.as_of)
    await send(lambda: message.reply_photo(photo, caption=caption, do_quote=False))


async def _render_chart(rt: Runtime, window: int | None) -> bytes:
    # matplotlib costs about half a second to import: paid by the first /chart, not start-up.
    from bot.present.charts import correlation_chart

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
    wanted = count(args[0]) if len(args) == 1 else None
    if len(args) > 1 or (args and not (wanted is not None and 1 <= wanted <= MAX_ALERTS)):
        await usage(update, "alerts")
        return
    await reply(update, alerts_list_html(rt.service.recent_alerts(wanted or 5)))


def _keyboard(chat: Chat) -> InlineKeyboardMarkup:
    current = {"spikes": chat.spikes.value, "regimes": chat.regimes.value}
    current["digest"] = "on" if chat.digest else "off"
    rows = [
        [
            InlineKeyboardButton(
                replies.setting_button(setting, value, current[setting]),
                callback_data=f"set:{setting}:{value}",
            )
            for value in values
        ]
        for setting, values in replies.SETTING_CHOICES.items()
    ]
    return InlineKeyboardMarkup(rows)


def _apply_setting(rt: Runtime, chat_id: int, setting: str, value: str) -> Chat | None:
    """Validate and store one setting; ``None`` when the words are not a valid setting."""
    now = rt.service.now()
    subscribers = rt.store.subscribers
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
    known = rt.store.subscribers.get(chat.id)
    if known is None:
        await reply(update, replies.SETTINGS_NEED_SUBSCRIPTION)
        return
    if args:
        if len(args) != 2:
            await usage(update, "settings")
            return
        if not await may_manage(update, context):
            await reply(update, replies.GROUP_SETTINGS_ADMINS_ONLY)
            return
        updated = _apply_setting(rt, chat.id, args[0], args[1])
        if updated is None:
            await usage(update, "settings")
            return
        known = updated
    text, keyboard = replies.settings_text(known), _keyboard(known)
    await send(lambda: message.reply_html(text, reply_markup=keyboard, do_quote=False))


async def on_settings_button(update: Update, context: Context) -> None:
    """A settings button: only for this chat, and in groups only for administrators."""
    rt, query, chat = runtime(context), update.callback_query, update.effective_chat
    if query is None or chat is None:
        return
    parts = (query.data or "").split(":")
    if len(parts) != 3 or parts[0] != "set":
        await query.answer(replies.BUTTON_UNKNOWN)
        return
    if not await may_manage(update, context):
        await query.answer(replies.BUTTON_ADMINS_ONLY, show_alert=True)
        return
    updated = _apply_setting(rt, chat.id, parts[1], parts[2])
    if updated is None:
        await query.answer(replies.BUTTON_NOT_APPLIED)
        return
    await query.answer(replies.setting_changed(parts[1], parts[2]))
    try:
        await query.edit_message_text(
            replies.settings_text(updated),
            parse_mode=ParseMode.HTML,
            reply_markup=_keyboard(updated),
        )
    except TelegramError:  # "message is not modified" and the like: the setting is saved
        log.debug("settings message %s not edited", query.message and query.message.message_id)


async def help_command(update: Update, context: Context) -> None:
    """/help: every command and its usage."""
    rt, user = runtime(context), update.effective_user
    await reply(update, replies.help_reply(rt.is_admin(user.id if user else None)))


async def about(update: Update, context: Context) -> None:
    """/about: the method, the data sources and today's evidence on the study, from the store."""
    rt = runtime(context)
    await reply(update, about_text(rt.config, rt.service.snapshot()))


async def status(update: Update, context: Context) -> None:
    """/status (admins): subscribers, last run, data freshness, next run, version."""
    if await admin_only(update, context):
        rt = runtime(context)
        report = await asyncio.to_thread(status_report, rt.service, rt.schedule, rt.version)
        await reply(update, status_html(report))


async def runnow(update: Update, context: Context) -> None:
    """/runnow (admins): run the daily job now and deliver what it produces."""
    if not await admin_only(update, context):
        return
    try:  # the job runs even if Telegram loses the acknowledgement
        await reply(update, replies.RUNNING_NOW)
    except TelegramError as exc:
        log.warning("/runnow acknowledgement not delivered (%s); running the job", exc.message)
    summary = await run_daily_job(context.application, reason="runnow")
    await reply(update, summary)


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
    await reply(update, replies.unknown_command(command, rt.is_admin(user.id if user else None)))
