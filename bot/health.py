"""``corrbot health``: one line and an exit status for Docker, systemd and Kubernetes probes.

Healthy means: the store opens; the running bot's heartbeat (written by ``corrbot run``
every ``health.heartbeat_seconds``) is fresh; Telegram answered a poll recently (a wedged
poller answers no command while the heartbeat goes on); the sender holds its lease and is
not paused by an unreachable API; and the daily job succeeded at or after its latest
scheduled run that is past its retry window (else the line gives its first problem, such as
a feed that stopped moving). Weekends and holidays are understood
through the same NYSE schedule the bot uses, so Monday morning is not "three days late".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.core.calendar import nyse
from bot.core.errors import StoreError
from bot.core.sender_lease import SenderState, read_sender_state
from bot.core.store import Store
from bot.core.store.meta import LastRun
from bot.scheduler import DailySchedule

__all__ = ["Health", "check_health"]

#: After the retry window, a little slack for the job itself to finish.
_SLACK = dt.timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Health:
    """The verdict and the one line that explains it."""

    ok: bool
    line: str


def check_health(config: Config, now: dt.datetime) -> Health:
    """Inspect the store the running bot writes; never creates or changes anything.

    The checks run in the order an operator would look: is the process alive (heartbeat),
    does it still hear Telegram (polling), does it still deliver (the sender's lease), did
    the daily job succeed when due (and if not, the first problem it reported).
    """
    path = Path(config.storage.path)
    if not path.exists():
        return Health(False, f"unhealthy: no store at {path} (has `corrbot run` started?)")
    try:
        with Store.open(path) as store:
            heartbeat = store.meta.heartbeat()
            polled = store.meta.polled_at()
            success = store.meta.last_success()
            last = store.meta.last_run()
            sender = read_sender_state(store.meta)
    except StoreError as exc:
        return Health(False, f"unhealthy: {exc}")
    if heartbeat is None:
        return Health(False, "unhealthy: no heartbeat yet (is `corrbot run` running?)")
    age = now - heartbeat
    limit = dt.timedelta(seconds=config.health.max_heartbeat_age_seconds)
    problem = (
        _heartbeat_problem(age, limit)
        or _polling_problem(
            polled, now, limit + dt.timedelta(seconds=config.telegram.poll_timeout_seconds)
        )
        or _sender_problem(sender, now)
        or _job_problem(config, now, success, last)
    )
    if problem is not None:
        return Health(False, f"unhealthy: {problem}")
    last_ok = None if success is None else success.finished_at
    ran = (
        "no run due yet" if last_ok is None else f"last successful run {last_ok:%Y-%m-%d %H:%M} UTC"
    )
    return Health(True, f"healthy: heartbeat {_human(age)} ago, {ran}")


def _polling_problem(
    polled: dt.datetime | None, now: dt.datetime, limit: dt.timedelta
) -> str | None:
    """A poller that stopped returning answers no command, though the heartbeat goes on."""
    if polled is None:
        return "Telegram has not answered a poll yet (is it reachable?)"
    age = now - polled
    if age > limit:
        return f"polling is stuck: Telegram last answered a poll {_human(age)} ago"
    return None


def _sender_problem(state: SenderState | None, now: dt.datetime) -> str | None:
    """Deliveries need a live sender, and one that is not paused by an unreachable API."""
    if state is None:
        return "the sender has not started (no alert can be delivered)"
    if not state.live(now):
        since = now - state.renewed_at
        return f"the sender is not running (last seen {_human(since)} ago): deliveries wait"
    if state.paused and state.paused_since is not None:
        reason = f": {state.pause_reason}" if state.pause_reason else ""
        return (
            f"deliveries paused for {_human(now - state.paused_since)}, "
            f"Telegram unreachable{reason}"
        )
    return None


def _job_problem(
    config: Config, now: dt.datetime, success: LastRun | None, last: LastRun | None
) -> str | None:
    """The latest run due (past its retry window) must have succeeded; if not, say why."""
    schedule = DailySchedule(
        dt.time(*config.schedule.hour_minute), config.schedule.timezone, nyse()
    )
    grace = dt.timedelta(minutes=config.schedule.retry_for_minutes) + _SLACK
    due = schedule.last_run(now - grace)
    last_ok = None if success is None else success.finished_at
    if due is None or (last_ok is not None and last_ok >= due):
        return None
    since = "never" if last_ok is None else f"last at {last_ok:%Y-%m-%d %H:%M} UTC"
    line = f"the daily job due {due:%Y-%m-%d %H:%M %Z} has not succeeded ({since})"
    problems = [] if last is None else last.problems
    return f"{line}; {problems[0]}" if problems else line


def _heartbeat_problem(age: dt.timedelta, limit: dt.timedelta) -> str | None:
    """What is wrong with a heartbeat ``age`` old, if anything."""
    if age > limit:
        return f"heartbeat is {_human(age)} old (is `corrbot run` alive?)"
    if -age > limit:  # written by a clock ahead of this one: neither can be trusted
        return f"heartbeat is {_human(-age)} in the future (did the system clock jump?)"
    return None


def _human(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
