"""The one line ``corrbot health`` prints for Docker, systemd and Kubernetes probes.

It starts with ``healthy:`` or ``unhealthy:`` and says, in words an operator acts on, the
first thing that is wrong (:mod:`bot.core.health` decides which).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.core.health import Finding, Verdict

__all__ = ["health_line", "no_store", "store_unreadable"]


def no_store(path: Path) -> str:
    """There is no store file: the bot never ran with this configuration."""
    return f"unhealthy: no store at {path} (has `corrbot run` started?)"


def store_unreadable(error: str) -> str:
    """The store could not be opened (its error says why)."""
    return f"unhealthy: {error}"


def health_line(verdict: Verdict) -> str:
    """``healthy: heartbeat 30 s ago, ...`` or ``unhealthy: <the first problem>``."""
    if verdict.finding is not None:
        return f"unhealthy: {_problem(verdict.finding)}"
    last_ok = verdict.last_success
    ran = "no run due yet" if last_ok is None else f"last successful run {_utc(last_ok)} UTC"
    age = verdict.heartbeat_age or dt.timedelta()
    return f"healthy: heartbeat {_human(age)} ago, {ran}"


def _problem(finding: Finding) -> str:  # noqa: PLR0911 - one sentence per kind of finding
    age = _human(finding.age or dt.timedelta())
    match finding.kind:
        case "no_heartbeat":
            return "no heartbeat yet (is `corrbot run` running?)"
        case "heartbeat_old":
            return f"heartbeat is {age} old (is `corrbot run` alive?)"
        case "heartbeat_future":
            return f"heartbeat is {age} in the future (did the system clock jump?)"
        case "never_polled":
            return "Telegram has not answered a poll yet (is it reachable?)"
        case "polling_stuck":
            return f"polling is stuck: Telegram last answered a poll {age} ago"
        case "sender_not_started":
            return "the sender has not started (no alert can be delivered)"
        case "sender_not_running":
            return f"the sender is not running (last seen {age} ago): deliveries wait"
        case "sender_paused":
            reason = f": {finding.reason}" if finding.reason else ""
            return f"deliveries paused for {age}, Telegram unreachable{reason}"
        case "job_missed":
            return _job_missed(finding)
    raise ValueError(f"unknown health finding {finding.kind!r}")


def _job_missed(finding: Finding) -> str:
    due, last_ok = finding.due, finding.last_ok
    since = "never" if last_ok is None else f"last at {_utc(last_ok)} UTC"
    shown = "?" if due is None else f"{due:%Y-%m-%d %H:%M %Z}"
    line = f"the daily job due {shown} has not succeeded ({since})"
    return f"{line}; {finding.reason}" if finding.reason else line


def _utc(when: dt.datetime) -> str:
    return f"{when.astimezone(dt.UTC):%Y-%m-%d %H:%M}"


def _human(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
