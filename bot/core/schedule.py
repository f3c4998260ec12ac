"""When the daily job runs: a local time of day, on NYSE sessions only.

The running bot registers the job every day at ``schedule.time`` in ``schedule.timezone``
and does nothing on days that are not NYSE sessions (weekends, holidays, per the exchange
calendar). The instants themselves are calendar arithmetic, needed by the bot (next run,
a run missed while it was down), by ``/status`` and by ``corrbot health`` alike, so they
live in the core, free of any scheduler library.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pandas as pd

from bot.core.calendar import TradingCalendar

__all__ = ["DailySchedule"]


class DailySchedule:
    """The scheduled instants of the daily job."""

    def __init__(self, at: dt.time, zone: str, calendar: TradingCalendar) -> None:
        self.zone = ZoneInfo(zone)
        self.at = at.replace(tzinfo=None)
        self._calendar = calendar

    @property
    def time_of_day(self) -> dt.time:
        """The job's local time, zone-aware (what JobQueue.run_daily wants)."""
        return self.at.replace(tzinfo=self.zone)

    def _run_on(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, self.at, tzinfo=self.zone)

    def is_run_day(self, day: dt.date) -> bool:
        """Whether ``day`` (in the schedule's zone) is an NYSE session."""
        return self._calendar.is_session(day)

    def next_run(self, now: dt.datetime) -> dt.datetime:
        """The first scheduled run strictly after ``now``."""
        day = now.astimezone(self.zone).date()
        for offset in range(0, 15):  # the NYSE is never closed for two weeks
            candidate = day + dt.timedelta(days=offset)
            when = self._run_on(candidate)
            if when > now and self.is_run_day(candidate):
                return when
        raise RuntimeError("no NYSE session in the next two weeks: is the calendar current?")

    def last_run(self, now: dt.datetime) -> dt.datetime | None:
        """The latest scheduled run at or before ``now``."""
        day = now.astimezone(self.zone).date()
        for offset in range(0, 15):
            candidate = day - dt.timedelta(days=offset)
            when = self._run_on(candidate)
            if when <= now and self.is_run_day(candidate):
                return when
        return None

    def missed_run(self, now: dt.datetime, last_success_at: dt.datetime | None) -> bool:
        """Whether the latest scheduled run has no successful run at or after it."""
        latest = self.last_run(now)
        if latest is None:
            return False
        return last_success_at is None or last_success_at < latest

    def session_of(self, run: dt.datetime) -> dt.date:
        """The NYSE session a run at ``run`` is about (its local date)."""
        return pd.Timestamp(run).tz_convert(self.zone).date()
