"""When the daily job runs: NYSE sessions at 17:30 New York, whatever the instant it is asked."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from bot.core.calendar import nyse
from bot.core.schedule import DailySchedule
from tests.fakes.clock import INSTANTS


def _schedule() -> DailySchedule:
    return DailySchedule(time(17, 30), "America/New_York", nyse())


def _utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


#: Per instant of the clock matrix: (the latest run at or before it, the next run after it).
RUNS_AROUND = {
    "weekday-2h-after-close": (_utc(2026, 12, 1, 22, 30), _utc(2026, 12, 2, 22, 30)),
    "1h-after-early-close": (_utc(2026, 11, 25, 22, 30), _utc(2026, 11, 27, 22, 30)),
    "saturday": (_utc(2026, 11, 27, 22, 30), _utc(2026, 11, 30, 22, 30)),
    "holiday": (_utc(2026, 11, 25, 22, 30), _utc(2026, 11, 27, 22, 30)),
    "dst-45min-after-close": (_utc(2027, 3, 12, 22, 30), _utc(2027, 3, 15, 21, 30)),
    "new-years-eve-night": (_utc(2026, 12, 31, 22, 30), _utc(2027, 1, 4, 22, 30)),
}


@pytest.mark.parametrize("instant", list(INSTANTS))
def test_last_and_next_run_around_every_instant_of_the_clock_matrix(instant: str) -> None:
    """Holidays and weekends are skipped; 17:30 New York moves in UTC with daylight saving."""
    last, following = RUNS_AROUND[instant]
    schedule = _schedule()
    assert schedule.last_run(INSTANTS[instant]) == last
    assert schedule.next_run(INSTANTS[instant]) == following


def test_a_run_is_missed_when_no_success_follows_the_latest_scheduled_run() -> None:
    """Start-up catches up when the last success predates the latest scheduled run."""
    schedule = _schedule()
    now = INSTANTS["saturday"]
    assert schedule.missed_run(now, _utc(2026, 11, 26, 0, 0))
    assert schedule.missed_run(now, None)
    assert not schedule.missed_run(now, _utc(2026, 11, 27, 22, 31))


def test_the_session_of_a_run_is_its_new_york_date() -> None:
    """A 17:30 New York run at 22:30 UTC is about that New York day's session."""
    assert _schedule().session_of(_utc(2026, 12, 31, 22, 30)).isoformat() == "2026-12-31"


def test_weekends_and_holidays_are_not_run_days() -> None:
    """Saturday and Thanksgiving are skipped; the Friday after, an early close, runs."""
    schedule = _schedule()
    assert not schedule.is_run_day(INSTANTS["saturday"].date())
    assert not schedule.is_run_day(INSTANTS["holiday"].date())
    assert schedule.is_run_day(INSTANTS["1h-after-early-close"].date())
