"""The NYSE calendar: sessions, holidays, early closes and daylight saving, in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from bot.core.calendar import nyse

THANKSGIVING_2024 = date(2024, 11, 28)
BLACK_FRIDAY_2024 = date(2024, 11, 29)  # closes at 13:00 New York


def test_weekends_and_holidays_are_not_sessions() -> None:
    """Saturday, Sunday and Thanksgiving have no session; the Wednesday before does."""
    calendar = nyse()
    assert not calendar.is_session(date(2024, 11, 30))
    assert not calendar.is_session(date(2024, 12, 1))
    assert not calendar.is_session(THANKSGIVING_2024)
    assert calendar.is_session(date(2024, 11, 27))


def test_a_close_is_16_new_york_in_utc_across_daylight_saving() -> None:
    """21:00 UTC in summer (EDT), 22:00 UTC after the clocks go back (EST)."""
    calendar = nyse()
    assert calendar.session_close(date(2024, 7, 1)) == pd.Timestamp("2024-07-01 20:00", tz="UTC")
    assert calendar.session_close(date(2024, 12, 2)) == pd.Timestamp("2024-12-02 21:00", tz="UTC")


def test_an_early_close_is_13_new_york() -> None:
    """The day after Thanksgiving closes three hours early."""
    close = nyse().session_close(BLACK_FRIDAY_2024)
    assert close == pd.Timestamp("2024-11-29 18:00", tz="UTC")


def test_a_day_without_a_session_has_no_close() -> None:
    """Asking for Thanksgiving's close is an error that names the day."""
    with pytest.raises(ValueError, match="2024-11-28 is not an NYSE session"):
        nyse().session_close(THANKSGIVING_2024)


def test_the_last_closed_session_waits_for_the_close_and_the_delay() -> None:
    """One second before the close the session is still the previous one; the delay moves it."""
    close = nyse().session_close(BLACK_FRIDAY_2024).to_pydatetime()
    calendar = nyse()
    assert calendar.last_closed_session(close - timedelta(seconds=1)) == date(2024, 11, 27)
    assert calendar.last_closed_session(close) == BLACK_FRIDAY_2024
    delayed = calendar.last_closed_session(close, delay=timedelta(minutes=30))
    assert delayed == date(2024, 11, 27)


def test_recent_closes_are_the_last_sessions_that_closed() -> None:
    """Over a holiday weekend, the three latest closes skip Thanksgiving."""
    now = datetime(2024, 12, 1, 12, 0, tzinfo=UTC)
    closes = nyse().recent_closes(3, now)
    days = [ts.date() for ts in pd.DatetimeIndex(closes.index)]
    assert days == [date(2024, 11, 26), date(2024, 11, 27), BLACK_FRIDAY_2024]


def test_sessions_after_counts_the_sessions_between_two_days() -> None:
    """From Wednesday to the next Monday over Thanksgiving: Friday and Monday."""
    assert nyse().sessions_after(date(2024, 11, 27), date(2024, 12, 2)) == 2
