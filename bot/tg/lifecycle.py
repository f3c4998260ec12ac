"""What the running bot does when it starts and stops, as python-telegram-bot's hooks.

As in PTB's own rules-bot, the services are created in ``post_init`` (from the composition
root, kept in ``bot_data``) and closed in ``post_shutdown``; the sender is stopped in
``post_stop``, after polling stopped, so in-flight deliveries finish or stay on record.
Start-up also subscribes the configured channel, publishes the command menu, starts the
metrics endpoint, honours a 429 pause a previous process was told about, and catches up a
daily run that was missed while the bot was down.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

from telegram import BotCommand
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot import __version__
from bot.compose import build
from bot.config import Config
from bot.core.clock import Clock
from bot.present.replies import COMMANDS
from bot.tg.delivery import sender_for
from bot.tg.jobs import MISFIRE_GRACE_SECONDS, daily_tick, run_daily_job
from bot.tg.polling import PollingRequest
from bot.tg.ratelimit import PacedRateLimiter
from bot.tg.runtime import RUNTIME_KEY, Runtime

__all__ = ["Lifecycle"]

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
#: How long in-flight deliveries may take to finish when the bot stops.
STOP_GRACE_SECONDS = 10.0


class Lifecycle:
    """The ``post_init``, ``post_stop`` and ``post_shutdown`` hooks of one Application."""

    def __init__(
        self, config: Config, clock: Clock, *, limiter: PacedRateLimiter, polling: PollingRequest
    ) -> None:
        self._config = config
        self._clock = clock
        self._limiter = limiter
        self._polling = polling

    async def post_init(self, application: AnyApplication) -> None:
        """Build the services and start everything that runs beside polling."""
        services = build(self._config, self._clock, show_progress=False)
        rt = Runtime(services, version=__version__)
        application.bot_data[RUNTIME_KEY] = rt
        self._polling.on_returned = lambda: setattr(rt, "polled_at", rt.service.now())
        _keep_pauses(self._limiter, rt)
        await _subscribe_channel(application, rt)
        await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
        rt.metrics.count_subscribers_with(rt.store.subscribers.count_active)
        if self._config.metrics.port is not None:
            rt.metrics.serve(self._config.metrics.port, self._config.metrics.address)
        rt.sender = sender_for(application.bot, services)
        rt.sender_task = asyncio.create_task(rt.sender.run(), name="sender")
        _schedule_jobs(application, rt)

    async def post_stop(self, application: AnyApplication) -> None:
        """Stop the sender: in-flight sends finish (or stay ``sending``, sent again later)."""
        rt = application.bot_data.get(RUNTIME_KEY)
        if not isinstance(rt, Runtime) or rt.sender is None:
            return
        await rt.sender.stop(grace=STOP_GRACE_SECONDS)
        if rt.sender_task is not None:
            rt.sender_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rt.sender_task

    async def post_shutdown(self, application: AnyApplication) -> None:
        """Close the sources' sessions and the store."""
        rt = application.bot_data.get(RUNTIME_KEY)
        if isinstance(rt, Runtime):
            await rt.services.close()


def _keep_pauses(limiter: PacedRateLimiter, rt: Runtime) -> None:
    """Honour a 429 pause a previous process was told about, and persist new ones."""
    until = rt.store.meta.pause_until()
    if until is not None:
        left = (until - rt.service.now()).total_seconds()
        if left > 0:
            log.info("Telegram asked for a pause until %s: sending nothing until then", until)
            limiter.pause(left)

    def persist(seconds: float) -> None:
        rt.store.meta.extend_pause(rt.service.now() + dt.timedelta(seconds=seconds))

    limiter.on_pause = persist


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
    rt.store.subscribers.subscribe(
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
    rt.store.meta.beat(rt.service.now(), polled_at=rt.polled_at)


async def _catch_up(context: ContextTypes.DEFAULT_TYPE) -> None:
    await run_daily_job(context.application, reason="catch-up")
