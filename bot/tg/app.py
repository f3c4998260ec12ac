"""The running bot: the python-telegram-bot Application, its handlers, and how it runs.

:func:`run_bot` follows ``Application.run_polling``'s own sequence (initialize, ``post_init``,
poll, start; then stop, ``post_stop``, shutdown, ``post_shutdown``; the hooks are in
:mod:`bot.tg.lifecycle`) in its documented manual form, because it needs three things
``run_polling`` does not do: retry while Telegram is unreachable at start (a DNS failure or
an outage must not crash-loop the container), stop on an event as well as on SIGTERM/SIGINT,
and exit 3 with a clear message when another instance polls the same token (Telegram's
"Conflict: terminated by other getUpdates request"), 2 on a rejected token.

Updates run concurrently but fairly (:class:`~bot.tg.ratelimit.FairUpdateProcessor`): one
chat flooding commands cannot hold every slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from typing import Any

from telegram import Update
from telegram.error import (
    BadRequest,
    Conflict,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot import __version__
from bot.config import Config
from bot.core.clock import Clock, utc_now
from bot.core.errors import DiskFullError, StoreError
from bot.logsetup import register_secret
from bot.present.replies import SLOW_DOWN, SLOW_DOWN_BUTTON, STORE_BUSY, STORE_FULL
from bot.tg import handlers
from bot.tg.lifecycle import Lifecycle
from bot.tg.polling import PollingRequest
from bot.tg.ratelimit import FairUpdateProcessor, PacedRateLimiter

__all__ = ["EXIT_CONFLICT", "build_application", "run_bot"]

log = logging.getLogger(__name__)

EXIT_CONFLICT = 3
#: Start-up retries while Telegram cannot be reached: the first wait, doubling up to the last.
START_RETRY_FIRST_SECONDS = 1.0
START_RETRY_MAX_SECONDS = 60.0
#: Updates processed at once, at most this many per chat, and at most this many admitted.
CONCURRENT_UPDATES = 8
UPDATES_PER_CHAT = 3
MAX_UPDATES_ADMITTED = 256
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def build_application(config: Config, token: str, *, clock: Clock = utc_now) -> AnyApplication:
    """An Application pointed at ``telegram.api_base_url``, handlers registered."""
    polling = PollingRequest(read_timeout=config.telegram.poll_timeout_seconds + 10)
    limiter = PacedRateLimiter(per_second=config.delivery.messages_per_second)
    hooks = Lifecycle(config, clock, limiter=limiter, polling=polling)
    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(config.telegram.api_base_url)
        .base_file_url(config.telegram.base_file_url)
        .rate_limiter(limiter)
        .get_updates_request(polling)
        .concurrent_updates(
            FairUpdateProcessor(
                CONCURRENT_UPDATES,
                per_chat=UPDATES_PER_CHAT,
                max_admitted=MAX_UPDATES_ADMITTED,
                slow_down=_slow_down,
            )
        )
        .post_init(hooks.post_init)
        .post_stop(hooks.post_stop)
        .post_shutdown(hooks.post_shutdown)
        .build()
    )
    _register_handlers(application)
    return application


def _register_handlers(application: AnyApplication) -> None:
    commands = {
        ("start", "subscribe"): handlers.subscribe,
        ("stop", "unsubscribe"): handlers.unsubscribe,
        ("corr",): handlers.corr,
        ("chart",): handlers.chart,
        ("alerts",): handlers.alerts,
        ("settings",): handlers.settings,
        ("help",): handlers.help_command,
        ("about",): handlers.about,
        ("status",): handlers.status,
        ("runnow",): handlers.runnow,
    }
    # New messages only: an edited "/start" must not subscribe (nor any edit run a command).
    new_messages = filters.UpdateType.MESSAGE
    for names, callback in commands.items():
        application.add_handler(CommandHandler(list(names), callback, filters=new_messages))
    application.add_handler(CallbackQueryHandler(handlers.on_settings_button, pattern=r"^set:"))
    application.add_handler(MessageHandler(filters.COMMAND & new_messages, handlers.unknown))
    application.add_error_handler(_on_error)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what broke (never the token: logging redacts it) and keep serving.

    A command the store could not record (a full disk, a lock held too long) still gets an
    answer saying so, instead of silence that reads as "done".
    """
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed", update_id, exc_info=context.error)
    if not isinstance(context.error, StoreError) or not isinstance(update, Update):
        return
    message = update.effective_message
    if message is None or update.callback_query is not None:
        return
    text = STORE_FULL if isinstance(context.error, DiskFullError) else STORE_BUSY
    with contextlib.suppress(TelegramError):
        await message.reply_text(text)


async def _slow_down(update: Update) -> None:
    """The answer to a chat whose commands or presses arrive faster than they are answered."""
    if update.callback_query is not None:
        await update.callback_query.answer(SLOW_DOWN_BUTTON)
        return
    message = update.effective_message
    if message is not None:
        await message.reply_text(SLOW_DOWN, do_quote=False)


async def run_bot(
    config: Config,
    token: str,
    *,
    clock: Clock = utc_now,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); returns the process exit status."""
    register_secret(token)
    stop = stop or asyncio.Event()
    conflict: list[TelegramError] = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    def on_poll_error(exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            conflict.append(exc)
            stop.set()
        else:
            log.warning("polling error (retrying): %s", exc)

    application = build_application(config, token, clock=clock)
    try:
        reached = await _initialize(application, stop)
    except InvalidToken:
        await application.bot.shutdown()  # close the connections initialize() opened
        log.error("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with @BotFather")  # noqa: TRY400
        _remove_signal_handlers(loop)
        return 2
    if not reached:  # stopped while Telegram was unreachable
        await application.bot.shutdown()
        _remove_signal_handlers(loop)
        return 0
    try:  # python-telegram-bot's documented manual start and stop, with its hooks
        if application.post_init is not None:
            await application.post_init(application)
        await application.updater.start_polling(  # type: ignore[union-attr]
            timeout=dt.timedelta(seconds=config.telegram.poll_timeout_seconds),
            error_callback=on_poll_error,
            allowed_updates=Update.ALL_TYPES,
        )
        await application.start()
        log.info("corrbot %s running", __version__)
        await stop.wait()
    finally:
        await _stop(application)
        _remove_signal_handlers(loop)
    if conflict:
        log.error(
            "another instance is polling this bot token (Telegram: %s); stopping this one",
            conflict[0].message,
        )
        return EXIT_CONFLICT
    return 0


def _remove_signal_handlers(loop: asyncio.AbstractEventLoop) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(sig)


def _unreachable(exc: TelegramError) -> bool:
    """Errors that say Telegram could not be reached or answered, not that we are wrong."""
    return isinstance(exc, RetryAfter) or (
        isinstance(exc, NetworkError) and not isinstance(exc, BadRequest)
    )


async def _initialize(application: AnyApplication, stop: asyncio.Event) -> bool:
    """``application.initialize()`` until Telegram answers; False if stopped meanwhile.

    A DNS failure, a proxy refusing, an outage: each attempt is bounded by the request
    timeouts, followed by one readable line and a wait of 1 s doubling to 60 s (or Telegram's
    ``retry_after``), until it works or SIGTERM arrives. The heartbeat starts only after, so
    ``corrbot health`` reports the bot unhealthy meanwhile. A rejected token (InvalidToken)
    propagates at once: retrying cannot fix it.
    """
    delay = START_RETRY_FIRST_SECONDS
    while not stop.is_set():
        try:
            await application.initialize()
        except TelegramError as exc:
            if not _unreachable(exc):
                raise
            wait = delay
            if isinstance(exc, RetryAfter):
                retry = exc.retry_after
                wait = retry.total_seconds() if isinstance(retry, dt.timedelta) else float(retry)
            log.warning("Telegram unreachable (%s); retrying in %s s", exc.message, f"{wait:g}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            delay = min(delay * 2, START_RETRY_MAX_SECONDS)
        else:
            return True
    return False


async def _stop(application: AnyApplication) -> None:
    """The stop half of ``Application.run_polling``: polling, the application, the hooks."""
    updater = application.updater
    if updater is not None and updater.running:
        await updater.stop()
    if application.running:
        await application.stop()
        if application.post_stop is not None:
            await application.post_stop(application)
    await application.shutdown()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)
