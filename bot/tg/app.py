"""The running bot: python-telegram-bot Application, long polling, the daily job, delivery.

Services are created in ``post_init`` and closed in ``post_shutdown`` (kept in
``bot_data``), as in PTB's own rules-bot. :func:`run_bot` owns the lifecycle so it can stop
cleanly on SIGTERM/SIGINT (stop polling, let in-flight deliveries finish or persist them,
close exchange sessions and the store) and stop with a clear message when another instance
polls the same token (Telegram's "Conflict: terminated by other getUpdates request").
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from typing import Any

from telegram import BotCommand, Update
from telegram.error import Conflict, InvalidToken, TelegramError
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
from bot.core.calendar import nyse
from bot.core.clock import Clock, utc_now
from bot.core.service import CorrService
from bot.core.store import Store, format_ts
from bot.health import HEARTBEAT_KEY
from bot.logsetup import register_secret
from bot.scheduler import MISFIRE_GRACE_SECONDS, DailySchedule
from bot.tg import handlers
from bot.tg.delivery import Sender
from bot.tg.jobs import daily_tick, run_daily_job
from bot.tg.ratelimit import PacedRateLimiter
from bot.tg.runtime import RUNTIME_KEY, Runtime
from bot.tg.texts import COMMANDS
from bot.wiring import build_evaluator, build_market_data

__all__ = ["EXIT_CONFLICT", "build_application", "run_bot"]

log = logging.getLogger(__name__)

EXIT_CONFLICT = 3
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def build_application(config: Config, token: str, *, clock: Clock = utc_now) -> AnyApplication:
    """An Application pointed at ``telegram.api_base_url``, handlers registered."""

    async def post_init(application: AnyApplication) -> None:
        await _start_services(application, config, clock)

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(config.telegram.api_base_url)
        .base_file_url(config.telegram.base_file_url)
        .rate_limiter(PacedRateLimiter(per_second=config.delivery.messages_per_second))
        .get_updates_read_timeout(config.telegram.poll_timeout_seconds + 10)
        .concurrent_updates(8)
        .post_init(post_init)
        .post_shutdown(_close_services)
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
    for names, callback in commands.items():
        application.add_handler(CommandHandler(list(names), callback))
    application.add_handler(CallbackQueryHandler(handlers.on_settings_button, pattern=r"^set:"))
    application.add_handler(MessageHandler(filters.COMMAND, handlers.unknown))
    application.add_error_handler(_on_error)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log what broke (never the token: logging redacts it) and keep serving."""
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("update %s failed", update_id, exc_info=context.error)


async def _start_services(application: AnyApplication, config: Config, clock: Clock) -> None:
    store = Store.open(config.storage.path)
    market = build_market_data(config, store, clock, show_progress=False)
    service = CorrService(store, market, build_evaluator(config), clock=clock)
    schedule = DailySchedule(
        dt.time(*config.schedule.hour_minute), config.schedule.timezone, nyse()
    )
    rt = Runtime(
        config=config, service=service, schedule=schedule, store=store, version=__version__
    )
    application.bot_data[RUNTIME_KEY] = rt
    await _subscribe_channel(application, rt)
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
    rt.metrics.count_subscribers_with(service.subscribers.count_active)
    if config.metrics.port is not None:
        rt.metrics.serve(config.metrics.port, config.metrics.address)
    rt.sender = Sender(
        application.bot,
        service,
        max_attempts=config.delivery.max_attempts,
        concurrency=config.delivery.concurrency,
        metrics=rt.metrics,
    )
    rt.sender_task = asyncio.create_task(rt.sender.run(), name="sender")
    _schedule_jobs(application, rt)


async def _subscribe_channel(application: AnyApplication, rt: Runtime) -> None:
    """``telegram.channel`` is subscribed like any chat, with every alert switched on."""
    channel = rt.config.telegram.channel
    if channel is None:
        return
    try:
        chat = await application.bot.get_chat(channel)
    except TelegramError as exc:
        log.error("telegram.channel %s cannot be reached: %s", channel, exc)  # noqa: TRY400
        return
    rt.service.subscribers.subscribe(
        chat.id,
        kind="channel",
        title=chat.title or str(channel),
        thread_id=None,
        now=rt.service.now(),
    )


def _schedule_jobs(application: AnyApplication, rt: Runtime) -> None:
    queue = application.job_queue
    if queue is None:  # the job-queue extra is a declared dependency
        raise RuntimeError("python-telegram-bot was installed without its job-queue extra")
    queue.run_repeating(
        _heartbeat, interval=rt.config.health.heartbeat_seconds, first=0.1, name="heartbeat"
    )
    queue.run_daily(
        daily_tick,
        time=rt.schedule.time_of_day,
        name="daily",
        job_kwargs={"misfire_grace_time": MISFIRE_GRACE_SECONDS, "coalesce": True},
    )
    success = rt.service.last_run("last_success")
    last_success_at = (
        None
        if success is None
        else dt.datetime.fromisoformat(success.finished_at.replace("Z", "+00:00"))
    )
    if rt.schedule.missed_run(rt.service.now(), last_success_at):
        log.info("a scheduled run was missed while the bot was down: catching up now")
        queue.run_once(
            _catch_up,
            when=1.0,
            name="catch-up",
            job_kwargs={"misfire_grace_time": MISFIRE_GRACE_SECONDS},
        )


async def _heartbeat(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tell `corrbot health` this process is alive (and its event loop is not stuck)."""
    rt: Runtime = context.application.bot_data[RUNTIME_KEY]
    if rt.store is not None:
        rt.store.set_meta(HEARTBEAT_KEY, format_ts(rt.service.now()))


async def _catch_up(context: ContextTypes.DEFAULT_TYPE) -> None:
    await run_daily_job(context.application, reason="catch-up")


async def _close_services(application: AnyApplication) -> None:
    rt = application.bot_data.get(RUNTIME_KEY)
    if not isinstance(rt, Runtime):
        return
    await rt.service.close()
    if rt.store is not None:
        rt.store.close()


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
        await application.initialize()
    except InvalidToken:
        await application.bot.shutdown()  # close the connections initialize() opened
        log.error("Telegram rejected the bot token (TELEGRAM_BOT_TOKEN): check it with @BotFather")  # noqa: TRY400
        return 2
    try:
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
        await _shutdown(application)
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    if conflict:
        log.error(
            "another instance is polling this bot token (Telegram: %s); stopping this one",
            conflict[0].message,
        )
        return EXIT_CONFLICT
    return 0


async def _shutdown(application: AnyApplication) -> None:
    """Stop polling, let deliveries finish or persist, stop jobs, close services."""
    updater = application.updater
    if updater is not None and updater.running:
        await updater.stop()
    rt = application.bot_data.get(RUNTIME_KEY)
    if isinstance(rt, Runtime) and rt.sender is not None:
        await rt.sender.stop(grace=10.0)
        if rt.sender_task is not None:
            rt.sender_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rt.sender_task
    if application.running:
        await application.stop()
    if application.post_shutdown is not None:
        await application.post_shutdown(application)
    await application.shutdown()
