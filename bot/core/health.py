"""Whether the running bot is well, judged from what it leaves in the store.

Healthy means: the running bot's heartbeat is fresh; Telegram answered a poll recently (a
wedged poller answers no command while the heartbeat goes on); the sender holds its lease
and is not paused by an unreachable API; and the daily job succeeded at or after its latest
scheduled run that is past its retry window (else its first problem is given, such as a
feed that stopped moving). Weekends and holidays are understood through the same NYSE
schedule the bot uses, so Monday morning is not "three days late".

The checks run in the order an operator would look, and the first that fails is the
finding; :mod:`bot.present.health` puts it into the probe's one line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.core.schedule import DailySchedule
from bot.core.sender_lease import SenderState, read_sender_state
from bot.core.store.meta import LastRun, Meta

__all__ = ["Finding", "HealthLimits", "Verdict", "assess"]

#: After the retry window, a little slack for the job itself to finish.
_SLACK = dt.timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class HealthLimits:
    """How old a heartbeat and a poll may be, and how long the daily job may keep retrying."""

    heartbeat: dt.timedelta
    poll: dt.timedelta
    retry_window: dt.timedelta


@dataclass(frozen=True, slots=True)
class Finding:
    """What is wrong, as data: ``kind`` names the check, the other fields what it saw.

    Kinds: ``no_heartbeat``, ``heartbeat_old`` / ``heartbeat_future`` (``age``),
    ``never_polled``, ``polling_stuck`` (``age``), ``sender_not_started``,
    ``sender_not_running`` (``age``: since it was last seen), ``sender_paused`` (``age``,
    ``reason``), ``job_missed`` (``due``, ``last_ok``, ``reason``: its first problem).
    """

    kind: str
    age: dt.timedelta | None = None
    due: dt.datetime | None = None
    last_ok: dt.datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The finding, if any, and what a healthy line reports."""

    finding: Finding | None
    heartbeat_age: dt.timedelta | None
    last_success: dt.datetime | None

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return self.finding is None


def assess(meta: Meta, schedule: DailySchedule, limits: HealthLimits, now: dt.datetime) -> Verdict:
    """Judge the store the running bot writes; reads only."""
    heartbeat = meta.heartbeat()
    success = meta.last_success()
    last_ok = None if success is None else success.finished_at
    if heartbeat is None:
        return Verdict(Finding("no_heartbeat"), None, last_ok)
    age = now - heartbeat
    finding = (
        _heartbeat(age, limits.heartbeat)
        or _polling(meta.polled_at(), now, limits.heartbeat + limits.poll)
        or _sender(read_sender_state(meta), now)
        or _job(schedule, limits.retry_window, now, success, meta.last_run())
    )
    return Verdict(finding, age, last_ok)


def _heartbeat(age: dt.timedelta, limit: dt.timedelta) -> Finding | None:
    if age > limit:
        return Finding("heartbeat_old", age=age)
    if -age > limit:  # written by a clock ahead of this one: neither can be trusted
        return Finding("heartbeat_future", age=-age)
    return None


def _polling(polled: dt.datetime | None, now: dt.datetime, limit: dt.timedelta) -> Finding | None:
    """A poller that stopped returning answers no command, though the heartbeat goes on."""
    if polled is None:
        return Finding("never_polled")
    age = now - polled
    return Finding("polling_stuck", age=age) if age > limit else None


def _sender(state: SenderState | None, now: dt.datetime) -> Finding | None:
    """Deliveries need a live sender, and one that is not paused by an unreachable API."""
    if state is None:
        return Finding("sender_not_started")
    if not state.live(now):
        return Finding("sender_not_running", age=now - state.renewed_at)
    if state.paused and state.paused_since is not None:
        return Finding("sender_paused", age=now - state.paused_since, reason=state.pause_reason)
    return None


def _job(
    schedule: DailySchedule,
    retry_window: dt.timedelta,
    now: dt.datetime,
    success: LastRun | None,
    last: LastRun | None,
) -> Finding | None:
    """The latest run due (past its retry window) must have succeeded; if not, say why."""
    due = schedule.last_run(now - retry_window - _SLACK)
    last_ok = None if success is None else success.finished_at
    if due is None or (last_ok is not None and last_ok >= due):
        return None
    problems = [] if last is None else last.problems
    return Finding("job_missed", due=due, last_ok=last_ok, reason=problems[0] if problems else None)
