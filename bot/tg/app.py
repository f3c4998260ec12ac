"""The running bot: python-telegram-bot Application, long polling, the daily job, delivery.

Services are created in ``post_init`` and closed in ``post_shutdown`` (kept in
``bot_data``), as in PTB's own rules-bot. :func:`run_bot` owns the lifecycle so it can stop
cleanly on SIGTERM/SIGINT (stop polling, let in-flight deliveries finish or persist them,
close exchange sessions and the store) and stop with a clear message when another instance
polls the same token (Telegram's "Conflict: terminated by other getUpdates request").

Polling is hardened where PTB's Updater would wedge: an update PTB cannot parse is skipped
(logged once, its ``update_id`` confirmed) instead of being fetched again in a busy loop, and
every normal getUpdates answer is timestamped so ``corrbot health`` can tell a live poller
from a merely beating heartbeat. Telegram being unreachable at start is retried with backoff.
Updates run concurrently but fairly (:class:`~bot.tg.ratelimit.FairUpdateProcessor`): one
chat flooding commands cannot hold every slot; a 429 pause is kept in the store across
restarts (:meth:`bot.core.store.meta.Meta.extend_pause`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Callable
from typing import Any

from telegram import BotCommand, Update
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
from telegram.request import HTTPXRequest

from bot import __version__
from bot.config import Config
from bot.core.calendar import nyse
from bot.core.clock import Clock, utc_now
from bot.core.errors import DiskFullError, StoreError
from bot.core.service import CorrService
from bot.core.store import Store
from bot.logsetup import register_secret
from bot.scheduler import MISFIRE_GRACE_SECONDS, DailySchedule
from bot.tg import handlers
from bot.tg.delivery import Sender
from bot.tg.jobs import daily_tick, run_daily_job
from bot.tg.ratelimit import FairUpdateProcessor, PacedRateLimiter
from bot.tg.runtime import RUNTIME_KEY, Runtime
from bot.tg.texts import COMMANDS, SLOW_DOWN, SLOW_DOWN_BUTTON, STORE_BUSY, STORE_FULL
from bot.wiring import build_evaluator, build_market_data

__all__ = ["EXIT_CONFLICT", "PollingRequest", "build_application", "run_bot"]

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


class PollingRequest(HTTPXRequest):
    """The getUpdates connection: skips updates PTB cannot parse and notes normal answers.

    PTB's Updater logs an update it cannot parse (a ``message`` without ``date``, say) and
    asks again with the same offset, so Telegram returns the same update at once, forever: a
    busy loop in which no command is answered. Here each update is test-parsed; one that
    fails is replaced by its bare ``{"update_id": N}`` (which no handler matches), so the
    Updater confirms it with its next offset and it is logged exactly once.
    ``on_returned`` is called after every answer that came back normally.
    """

    def __init__(self, *, read_timeout: float) -> None:
        super().__init__(connection_pool_size=1, read_timeout=read_timeout)
        self.on_returned: Callable[[], None] | None = None
        self.skipped = 0

    def parse_json_payload(self, payload: bytes) -> dict[str, Any]:  # type: ignore[override]
        """Telegram's answer, with unparsable updates reduced to their ``update_id``.

        PTB's documented hook for decoding answers; this request serves only getUpdates,
        so a successful answer whose result is a list is a batch of updates.
        """
        answer = super().parse_json_payload(payload)
        result = answer.get("result")
        if answer.get("ok") and isinstance(result, list):
            answer["result"] = [self._readable(item) for item in result]
            if self.on_returned is not None:
                self.on_returned()
        return answer

    def _readable(self, item: Any) -> Any:
        try:
            Update.de_json(item, None)
        except Exception as exc:
            update_id = item.get("update_id") if isinstance(item, dict) else None
            self.skipped += 1
            log.warning(
                "skipped update %s: python-telegram-bot cannot read it (%s: %s)",
                update_id,
                type(exc).__name__,
                exc,
            )
            if isinstance(update_id, int):
                return {"update_id": update_id}
            raise
        return item


def build_application(config: Config, token: str, *, clock: Clock = utc_now) -> AnyApplication:
    """An Application pointed at ``telegram.api_base_url``, handlers registered."""
    polling = PollingRequest(read_timeout=config.telegram.poll_timeout_seconds + 10)
    limiter = PacedRateLimiter(per_second=config.delivery.messages_per_second)

    async def post_init(application: AnyApplication) -> None:
        await _start_services(application, config, clock)
        rt: Runtime = application.bot_data[RUNTIME_KEY]
        polling.on_returned = lambda: setattr(rt, "polled_at", rt.service.now())
        _keep_pauses(limiter, rt)

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


def _keep_pauses(limiter: PacedRateLimiter, rt: Runtime) -> None:
    """Honour a 429 pause a previous process was told about, and persist new ones."""
    store = rt.store
    if store is None:
        return
    until = store.meta.pause_until()
    if until is not None:
        left = (until - rt.service.now()).total_seconds()
        if left > 0:
            log.info("Telegram asked for a pause until %s: sending nothing until then", until)
            limiter.pause(left)

    def persist(seconds: float) -> None:
        store.meta.extend_pause(rt.service.now() + dt.timedelta(seconds=seconds))

    limiter.on_pause = persist


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
        admins=config.telegram.admins,
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
    success = rt.service.last_success()
    last_success_at = None if success is None else success.finished_at
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
        rt.store.meta.beat(rt.service.now(), polled_at=rt.polled_at)


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
