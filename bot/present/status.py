"""The administrators' ``/status`` report, in Telegram HTML.

"fresh" is said of a feed only when nothing is due, nothing is missing and nothing was
given up; a feed two sessions behind is said to have stopped moving; a sender paused by an
outage says since when. The facts come from :func:`bot.core.status.status_report`.
"""

from __future__ import annotations

import datetime as dt

from bot.core.freshness import FROZEN_AFTER
from bot.core.models import SymbolStatus
from bot.core.sender_lease import SenderState
from bot.core.status import StatusReport
from bot.core.store import format_ts
from bot.core.store.meta import LastRun
from bot.present.markup import escape
from bot.present.numbers import counted

__all__ = ["status_html"]


def status_html(report: StatusReport) -> str:
    """/status: subscribers, last run and its outcome, data freshness, next run, version."""
    counts, last = report.outbox, report.last_run
    lines = [
        f"<b>corrbot {escape(report.version)}</b>",
        f"Subscribers: {report.subscribers}",
        f"Last run: {_run_line(last)}",
        f"Last successful run: {_run_line(report.last_success)}",
        f"Next run: {report.next_run.strftime('%a %Y-%m-%d %H:%M %Z')}",
        f"Outbox: {counts.pending} pending, {counts.sending} sending, {counts.sent} sent, "
        f"{counts.failed} failed, {counts.dropped} dropped",
        f"Sender: {escape(_sender_line(report.sender, report.now))}",
        "",
        "<b>Data</b>",
    ]
    lines.extend(escape(_data_line(item)) for item in report.data)
    if last and last.problems:
        lines += ["", "<b>Problems</b>", *(escape(p) for p in last.problems[:10])]
    return "\n".join(lines)


def _data_line(item: SymbolStatus) -> str:
    """One symbol: "fresh" only when nothing is due, nothing is missing and nothing is lost."""
    last_session = item.last_session.isoformat() if item.last_session else "none"
    if item.stale_sessions >= FROZEN_AFTER:
        state = f"{item.stale_sessions} sessions behind: the feed stopped moving"
    elif item.stale_sessions:
        state = "1 session behind (not published yet?)"
    else:
        state = "fresh" if not (item.pending or item.gaps) else "up to date"
    line = f"{item.asset.symbol}: {item.source}, last {last_session}, {state}"
    if item.pending:
        line += f"; {len(item.pending)} missing, fetched again ({_days(item.pending)})"
    if item.gaps:
        line += f"; {counted(len(item.gaps), 'known gap')} ({_days(item.gaps)})"
    return line


def _days(days: tuple[dt.date, ...], shown: int = 3) -> str:
    listed = ", ".join(day.isoformat() for day in days[:shown])
    return listed if len(days) <= shown else f"{listed} and {len(days) - shown} more"


def _sender_line(state: SenderState | None, now: dt.datetime) -> str:
    """Whether deliveries flow: running, paused by an outage, or not running at all."""
    if state is None or not state.live(now):
        return "not running: deliveries wait (see `corrbot health`)"
    given_up = f", {state.given_up} given up" if state.given_up else ""
    if state.paused and state.paused_since is not None:
        reason = f" ({state.pause_reason})" if state.pause_reason else ""
        return (
            f"paused since {state.paused_since.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC: "
            "Telegram unreachable"
            f"{reason}{given_up}"
        )
    return f"running{given_up}"


def _run_line(run: LastRun | None) -> str:
    if run is None:
        return "never"
    outcome = "ok" if run.ok else "with problems"
    as_of = "n/a" if run.as_of is None else run.as_of.isoformat()
    finished = format_ts(run.finished_at)
    return escape(f"{finished} ({outcome}, {run.alerts} alerts, data as of {as_of})")
