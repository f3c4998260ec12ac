"""What the administrators are told: the daily job's outcome and the notices it queues.

A notice is a :class:`Message` (it waits in the outbox like an alert); the ``/runnow``
summary is HTML. Details arrive already redacted: nothing here can see a secret.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.core.message import Message
from bot.core.service import CheckResult
from bot.present.markup import escape

__all__ = [
    "JOB_FAILED",
    "JOB_HAD_PROBLEMS",
    "delivery_failed",
    "feeds_stopped",
    "job_failed_html",
    "job_summary_html",
    "no_complete_data",
    "notice",
    "retrying_at",
]

JOB_FAILED = "The daily job failed"
JOB_HAD_PROBLEMS = "The daily job had problems"
#: Problems listed in a summary; the rest are in the logs and in /status.
_PROBLEMS_SHOWN = 10
#: Telegram splits long messages, but a notice is meant to be read at a glance.
_DETAIL_LIMIT = 3000


def notice(title: str, detail: str) -> Message:
    """A notice to the admins: what happened in the title, the lines that explain it."""
    return Message(title=title, lead=detail[:_DETAIL_LIMIT] or "See the logs.", footer="corrbot")


def feeds_stopped(count: int) -> str:
    """The title of the notice about feeds that stopped moving."""
    return "Price feeds stopped moving" if count > 1 else "A price feed stopped moving"


def no_complete_data(session: date, retried_minutes: int) -> str:
    """The title of the notice sent when the day's data never came within the retries."""
    return f"No complete data for {session.isoformat()} after {retried_minutes} minutes of retries"


def retrying_at(when: datetime) -> str:
    """The line added to a failure that will be retried."""
    return f"\nRetrying at {when.astimezone(UTC):%H:%M} UTC."


def job_failed_html(detail: str) -> str:
    """The ``/runnow`` answer when the job raised."""
    return f"{JOB_FAILED}: {escape(detail)}"


def job_summary_html(result: CheckResult, elapsed: float) -> str:
    """The ``/runnow`` answer: how long, data as of when, new alerts, the first problems."""
    snapshot = result.snapshot
    as_of = snapshot.as_of.isoformat() if snapshot else "n/a"
    lines = [
        f"<b>Daily job done</b> in {elapsed:.1f} s: data as of {as_of}, "
        f"{len(result.recorded)} new alert(s)."
    ]
    lines.extend(f"⚠️ {escape(problem)}" for problem in result.problems()[:_PROBLEMS_SHOWN])
    return "\n".join(lines)


def delivery_failed(what: str) -> Message:
    """The notice of a delivery given up for good (``what``: alert, chat and reason)."""
    return Message(
        title="A delivery failed for good",
        lead=what[:_DETAIL_LIMIT],
        footer="corrbot: later failures of this alert are counted, not told",
    )
