"""The daily job as the running bot performs it: run, retry while data is late, tell admins.

The job: run ``service.check_now()``, wake the sender so deliveries start at once, and,
when the day's data is not available yet, try again every ``retry_minutes`` until
``retry_for_minutes`` after the scheduled time, then tell the admins. Failures are logged
and reported to admins; they never crash the bot.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext

from bot.core.errors import StoreError
from bot.core.message import Message
from bot.core.service import CheckResult
from bot.logsetup import redact
from bot.present import notices
from bot.tg.formatting import render_html_chunks
from bot.tg.runtime import RUNTIME_KEY, Runtime

__all__ = ["MISFIRE_GRACE_SECONDS", "daily_tick", "run_daily_job"]

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
#: A run delayed by a busy loop still happens if it is at most this late (APScheduler's
#: default grace is one second: a busy moment would drop the day's run).
MISFIRE_GRACE_SECONDS = 6 * 3600


async def daily_tick(context: CallbackContext[Any, Any, Any, Any]) -> None:
    """The scheduled callback: runs on NYSE sessions only."""
    rt: Runtime = context.application.bot_data[RUNTIME_KEY]
    today = rt.service.now().astimezone(rt.schedule.zone).date()
    if not rt.schedule.is_run_day(today):
        log.info("daily job skipped: %s is not an NYSE session", today)
        return
    await run_daily_job(context.application, reason="schedule")


async def run_daily_job(application: AnyApplication, *, reason: str) -> str:
    """Run the job once (one at a time); returns a short HTML summary for admins."""
    rt: Runtime = application.bot_data[RUNTIME_KEY]
    async with rt.job_lock:
        started = rt.service.now()
        log.info("job started (%s)", reason, extra={"event": "job.started", "reason": reason})
        try:
            result = await rt.service.check_now()
        except Exception as exc:
            rt.metrics.job_runs.labels("failed").inc()
            log.exception("job failed (%s)", reason, extra={"event": "job.failed"})
            detail = redact(f"{type(exc).__name__}: {exc}")  # never a secret in a message
            retry_at = _schedule_retry(application, rt, started)
            if retry_at is not None:
                detail += notices.retrying_at(retry_at)
            await _notify_admins(
                application, rt, f"failed:{started:%Y-%m-%dT%H}", notices.JOB_FAILED, detail
            )
            return notices.job_failed_html(detail)
        if rt.sender is not None:
            rt.sender.wake()
        elapsed = (rt.service.now() - started).total_seconds()
        _record_metrics(rt, result, elapsed)
        for stored in result.recorded:
            log.info(
                "alert recorded: %s",
                stored.alert.key,
                extra={"event": "alert.recorded", "alert": stored.alert.key},
            )
        log.info(
            "job finished (%s) in %.1f s: %d alerts recorded, ok=%s",
            reason,
            elapsed,
            len(result.recorded),
            result.ok,
            extra={
                "event": "job.finished",
                "duration_s": round(elapsed, 3),
                "alerts": len(result.recorded),
                "ok": result.ok,
            },
        )
        await _follow_up(application, rt, result, started)
        return notices.job_summary_html(result, elapsed)


def _record_metrics(rt: Runtime, result: CheckResult, elapsed: float) -> None:
    metrics = rt.metrics
    metrics.job_duration.observe(elapsed)
    metrics.job_runs.labels("ok" if result.ok else "problems").inc()
    for stored in result.recorded:
        metrics.alerts.labels(stored.alert.kind.value).inc()
    for status in rt.service.data_status():
        metrics.staleness.labels(status.asset.symbol).set(status.stale_sessions)


async def _follow_up(
    application: AnyApplication, rt: Runtime, result: CheckResult, started: dt.datetime
) -> None:
    """Retry soon while the day's data is late; tell the admins when giving up.

    Feeds that stopped moving are told at once, in one notice, and once per freeze (its key
    names each symbol and its last price), whatever else the run did.
    """
    # A feed that never delivered did not stop moving: the late-data notice covers it.
    stopped = [feed for feed in result.frozen if feed.last_session is not None]
    if stopped:
        await _notify_admins(
            application,
            rt,
            "|".join(feed.notice_key for feed in stopped),
            notices.feeds_stopped(len(stopped)),
            "\n".join(line for feed in stopped for line in feed.problems()),
        )
    if result.ok or not result.stale:
        if not result.ok:
            await _notify_admins(
                application,
                rt,
                f"problems:{started:%Y-%m-%d}",
                notices.JOB_HAD_PROBLEMS,
                "\n".join(result.problems()),
            )
        return
    if _schedule_retry(application, rt, started) is not None:
        log.warning("data not available yet; retrying in %d min", rt.config.schedule.retry_minutes)
        return
    scheduled = rt.schedule.last_run(started) or started
    session = rt.schedule.session_of(scheduled)
    await _notify_admins(
        application,
        rt,
        f"stale:{session.isoformat()}",
        notices.no_complete_data(session, rt.config.schedule.retry_for_minutes),
        "\n".join(result.problems()),
    )


def _schedule_retry(
    application: AnyApplication, rt: Runtime, started: dt.datetime
) -> dt.datetime | None:
    """Run the job again ``retry_minutes`` from now, while inside the retry window.

    Used for late data and for a job that failed outright (a locked or full store, a bug in
    a source): either may have passed by then. Returns when, or ``None`` once the window
    after the scheduled run is over (the admins are told instead).
    """
    scheduled = rt.schedule.last_run(started) or started
    give_up_at = scheduled + dt.timedelta(minutes=rt.config.schedule.retry_for_minutes)
    retry_at = started + dt.timedelta(minutes=rt.config.schedule.retry_minutes)
    if retry_at > give_up_at or application.job_queue is None:
        return None
    application.job_queue.run_once(
        _retry,
        when=retry_at,
        name="daily-retry",
        # APScheduler's default grace is one second: a busy moment would drop the retry.
        job_kwargs={"misfire_grace_time": MISFIRE_GRACE_SECONDS},
    )
    return retry_at


async def _retry(context: CallbackContext[Any, Any, Any, Any]) -> None:
    await run_daily_job(context.application, reason="retry")


async def _notify_admins(
    application: AnyApplication, rt: Runtime, key: str, title: str, detail: str
) -> None:
    """Queue a notice to the admins; if the store cannot take it (full disk), send it directly.

    The direct send is best effort and unrecorded: it exists so that the one failure that
    stops the outbox is not also the one nobody hears about.
    """
    admins = rt.config.telegram.admins
    if not admins:
        log.warning("%s (no admins configured to tell): %s", title, detail)
        return
    message = notices.notice(title, detail)
    try:
        queued = rt.service.notify(f"notice:{key}", message, admins)
    except StoreError as exc:
        log.error("cannot queue the admins' notice (%s): sending it directly", exc)  # noqa: TRY400
        await _send_directly(application, admins, message)
        return
    if queued and rt.sender is not None:
        rt.sender.wake()


async def _send_directly(application: AnyApplication, admins: list[int], message: Message) -> None:
    for chat_id in admins:
        try:
            for chunk in render_html_chunks(message):
                await application.bot.send_message(chat_id, chunk, parse_mode=ParseMode.HTML)
        except TelegramError as exc:
            log.error("cannot tell admin %s: %s", chat_id, exc)  # noqa: TRY400
