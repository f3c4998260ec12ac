"""``corrbot health``: one line and an exit status for Docker, systemd and Kubernetes probes.

Healthy means: the store opens; the running bot's heartbeat (written by ``corrbot run``
every ``health.heartbeat_seconds``) is fresh; and the daily job succeeded at or after its
latest scheduled run that is past its retry window. Weekends and holidays are understood
through the same NYSE schedule the bot uses, so Monday morning is not "three days late".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.core.calendar import nyse
from bot.core.errors import StoreError
from bot.core.service import LastRun
from bot.core.store import Store, parse_ts
from bot.scheduler import DailySchedule

__all__ = ["HEARTBEAT_KEY", "Health", "check_health"]

HEARTBEAT_KEY = "heartbeat"
#: After the retry window, a little slack for the job itself to finish.
_SLACK = dt.timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Health:
    """The verdict and the one line that explains it."""

    ok: bool
    line: str


def check_health(config: Config, now: dt.datetime) -> Health:
    """Inspect the store the running bot writes; never creates or changes anything."""
    path = Path(config.storage.path)
    if not path.exists():
        return Health(False, f"unhealthy: no store at {path} (has `corrbot run` started?)")
    try:
        with Store.open(path) as store:
            heartbeat = store.get_meta(HEARTBEAT_KEY)
            success = store.get_meta("last_success")
    except StoreError as exc:
        return Health(False, f"unhealthy: {exc}")
    if heartbeat is None:
        return Health(False, "unhealthy: no heartbeat yet (is `corrbot run` running?)")
    age = now - parse_ts(heartbeat).to_pydatetime()
    problem = _heartbeat_problem(age, dt.timedelta(seconds=config.health.max_heartbeat_age_seconds))
    if problem is not None:
        return Health(False, f"unhealthy: {problem}")
    schedule = DailySchedule(
        dt.time(*config.schedule.hour_minute), config.schedule.timezone, nyse()
    )
    grace = dt.timedelta(minutes=config.schedule.retry_for_minutes) + _SLACK
    due = schedule.last_run(now - grace)
    last_ok = None
    if success is not None:
        last_ok = parse_ts(LastRun.from_json(success).finished_at).to_pydatetime()
    if due is not None and (last_ok is None or last_ok < due):
        since = "never" if last_ok is None else f"last at {last_ok:%Y-%m-%d %H:%M} UTC"
        return Health(
            False,
            f"unhealthy: the daily job due {due:%Y-%m-%d %H:%M %Z} has not succeeded ({since})",
        )
    ran = (
        "no run due yet" if last_ok is None else f"last successful run {last_ok:%Y-%m-%d %H:%M} UTC"
    )
    return Health(True, f"healthy: heartbeat {_human(age)} ago, {ran}")


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
