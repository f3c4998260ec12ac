"""The daily job as the running bot performs it, and the admins' status report.

The job: run ``service.check_now()``, wake the sender so deliveries start at once, and,
when the day's data is not available yet, try again every ``retry_minutes`` until
``retry_for_minutes`` after the scheduled time, then tell the admins. Failures are logged
and reported to admins; they never crash the bot.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from telegram.ext import Application, CallbackContext

from bot.core.messages import Message
from bot.core.service import CheckResult
from bot.logsetup import redact
from bot.scheduler import MISFIRE_GRACE_SECONDS
from bot.tg.formatting import escape
from bot.tg.runtime import RUNTIME_KEY, Runtime

__all__ = ["daily_tick", "run_daily_job", "status_html"]

log = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


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
            _notify_admins(rt, f"failed:{started:%Y-%m-%dT%H}", "The daily job failed", detail)
            return f"The daily job failed: {escape(detail)}"
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
        _follow_up(application, rt, result, started)
        return _summary(result, elapsed)


def _record_metrics(rt: Runtime, result: CheckResult, elapsed: float) -> None:
    metrics = rt.metrics
    metrics.job_duration.observe(elapsed)
    metrics.job_runs.labels("ok" if result.ok else "problems").inc()
    for stored in result.recorded:
        metrics.alerts.labels(stored.alert.kind.value).inc()
    for status in rt.service.data_status():
        metrics.staleness.labels(status.asset.symbol).set(status.stale_sessions)


def _follow_up(
    application: AnyApplication, rt: Runtime, result: CheckResult, started: dt.datetime
) -> None:
    """Retry soon while the day's data is late; tell the admins when giving up."""
    if result.ok or not result.stale:
        if not result.ok:
            _notify_admins(
                rt,
                f"problems:{started:%Y-%m-%d}",
                "The daily job had problems",
                "\n".join(result.problems()),
            )
        return
    scheduled = rt.schedule.last_run(started) or started
    give_up_at = scheduled + dt.timedelta(minutes=rt.config.schedule.retry_for_minutes)
    retry_at = started + dt.timedelta(minutes=rt.config.schedule.retry_minutes)
    if retry_at <= give_up_at and application.job_queue is not None:
        log.warning("data not available yet; retrying at %s", retry_at.isoformat())
        application.job_queue.run_once(
            _retry,
            when=retry_at,
            name="daily-retry",
            # APScheduler's default grace is one second: a busy moment would drop the retry.
            job_kwargs={"misfire_grace_time": MISFIRE_GRACE_SECONDS},
        )
        return
    session = rt.schedule.session_of(scheduled)
    _notify_admins(
        rt,
        f"stale:{session.isoformat()}",
        f"No complete data for {session.isoformat()} after "
        f"{rt.config.schedule.retry_for_minutes} minutes of retries",
        "\n".join(result.problems()),
    )


async def _retry(context: CallbackContext[Any, Any, Any, Any]) -> None:
    await run_daily_job(context.application, reason="retry")


def _notify_admins(rt: Runtime, key: str, title: str, detail: str) -> None:
    admins = rt.config.telegram.admins
    if not admins:
        log.warning("%s (no admins configured to tell): %s", title, detail)
        return
    message = Message(title=title, lead=detail[:3000] or "See the logs.", footer="corrbot")
    if rt.service.notify(f"notice:{key}", message, admins) and rt.sender is not None:
        rt.sender.wake()


def _summary(result: CheckResult, elapsed: float) -> str:
    snapshot = result.snapshot
    as_of = snapshot.as_of.isoformat() if snapshot else "n/a"
    lines = [
        f"<b>Daily job done</b> in {elapsed:.1f} s: data as of {as_of}, "
        f"{len(result.recorded)} new alert(s)."
    ]
    lines.extend(f"⚠️ {escape(problem)}" for problem in result.problems()[:10])
    return "\n".join(lines)


def status_html(rt: Runtime) -> str:
    """/status: subscribers, last run and its outcome, data freshness, next run, version."""
    service = rt.service
    now = service.now()
    last, success = service.last_run(), service.last_run("last_success")
    counts = service.outbox.counts()
    lines = [
        f"<b>corrbot {escape(rt.version)}</b>",
        f"Subscribers: {service.subscribers.count_active()}",
        f"Last run: {_run_line(last)}",
        f"Last successful run: {_run_line(success)}",
        f"Next run: {rt.schedule.next_run(now).strftime('%a %Y-%m-%d %H:%M %Z')}",
        f"Outbox: {counts.pending} pending, {counts.sending} sending, {counts.sent} sent, "
        f"{counts.failed} failed, {counts.dropped} dropped",
        "",
        "<b>Data</b>",
    ]
    for item in service.data_status():
        last_session = item.last_session.isoformat() if item.last_session else "none"
        fresh = "fresh" if item.stale_sessions == 0 else f"{item.stale_sessions} behind"
        lines.append(escape(f"{item.asset.symbol}: {item.source}, last {last_session}, {fresh}"))
    if last and last.problems:
        lines += ["", "<b>Problems</b>", *(escape(p) for p in last.problems[:10])]
    return "\n".join(lines)


def _run_line(run: Any) -> str:
    if run is None:
        return "never"
    outcome = "ok" if run.ok else "with problems"
    return escape(f"{run.finished_at} ({outcome}, {run.alerts} alerts, data as of {run.as_of})")
