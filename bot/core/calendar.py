"""NYSE sessions, closes and "what should be available by now", from exchange-calendars.

Every date question (weekends, holidays, 13:00 early closes, daylight-saving switches) is
answered by the XNYS calendar instead of hand-written rules. Session labels are naive
dates; closes are tz-aware UTC timestamps.
"""

from __future__ import annotations

import functools
import warnings
from datetime import date, datetime, timedelta

import exchange_calendars as xcals
import pandas as pd

from bot.core.clock import utc_now

__all__ = ["CALENDAR_END", "CALENDAR_START", "TradingCalendar", "nyse"]

#: First session the calendar knows; the real data in development goes back to 2000.
CALENDAR_START = "2000-01-03"
#: The calendar reaches at least this far. exchange-calendars would stop one year after the
#: day it is built, so a process built on another day (or a test's clock set elsewhere)
#: would know other sessions; a fixed horizon makes every process know the same ones.
CALENDAR_END = "2040-12-31"
#: A process still running near the horizon looks this far beyond today.
_LOOKAHEAD = timedelta(days=2 * 366)


class TradingCalendar:
    """A thin, typed view over the XNYS calendar, in the terms the rest of corrbot needs."""

    def __init__(self, start: str = CALENDAR_START, end: str | None = None) -> None:
        if end is None:
            end = max(date.fromisoformat(CALENDAR_END), utc_now().date() + _LOOKAHEAD).isoformat()
        with warnings.catch_warnings():
            # exchange-calendars still reads Series.values, which pandas 3.1 deprecates for
            # tz-aware data; harmless for us (we only read the closes) and not ours to fix.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            cal = xcals.get_calendar("XNYS", start=start, end=end)
            closes = cal.closes
        self._closes: pd.Series = pd.Series(
            closes.to_numpy(), index=pd.DatetimeIndex(closes.index).normalize(), name="close"
        )

    @property
    def first_session(self) -> date:
        """The earliest session the calendar covers."""
        return self._closes.index[0].date()  # type: ignore[no-any-return]

    def closes(self, first: date | None = None, last: date | None = None) -> pd.Series:
        """Session close times (UTC) indexed by session date, ``first`` to ``last`` inclusive."""
        series = self._closes
        if first is not None:
            series = series[series.index >= pd.Timestamp(first)]
        if last is not None:
            series = series[series.index <= pd.Timestamp(last)]
        return series

    def is_session(self, day: date) -> bool:
        """Whether NYSE trades on ``day``."""
        return pd.Timestamp(day) in self._closes.index

    def session_close(self, day: date) -> pd.Timestamp:
        """The UTC close of session ``day`` (16:00 New York, 13:00 on early-close days)."""
        try:
            return pd.Timestamp(self._closes.loc[pd.Timestamp(day)])
        except KeyError:
            raise ValueError(f"{day.isoformat()} is not an NYSE session") from None

    def last_closed_session(self, now: datetime, *, delay: timedelta = timedelta(0)) -> date | None:
        """The latest session whose close plus ``delay`` is at or before ``now``."""
        cutoff = pd.Timestamp(now).tz_convert("UTC") - delay
        closed = self._closes[self._closes <= cutoff]
        return None if closed.empty else closed.index[-1].date()

    def recent_closes(
        self, count: int, now: datetime, *, delay: timedelta = timedelta(0)
    ) -> pd.Series:
        """The last ``count`` sessions that have closed (plus ``delay``) by ``now``."""
        cutoff = pd.Timestamp(now).tz_convert("UTC") - delay
        return self._closes[self._closes <= cutoff].iloc[-count:]

    def sessions_after(self, first: date, last: date) -> int:
        """How many sessions fall after ``first`` and on or before ``last``."""
        index = self._closes.index
        return int(
            index.searchsorted(pd.Timestamp(last), side="right")
            - index.searchsorted(pd.Timestamp(first), side="right")
        )


@functools.cache
def nyse() -> TradingCalendar:
    """The process-wide XNYS calendar (building one takes most of a second)."""
    return TradingCalendar()
