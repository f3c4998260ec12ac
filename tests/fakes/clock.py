"""Time in tests: it moves only when the test moves it.

Code under test asks a :data:`bot.core.clock.Clock` for "now" (the production seam), so most
tests pass a :class:`ManualClock`. Code that also reads the time through a library (the
JobQueue of python-telegram-bot is APScheduler, which calls ``datetime.now``) runs under
:class:`ProcessClock`: every clock read of this process (``datetime.now``, ``time.time``,
``date.today``, pandas' ``Timestamp.now``) is frozen at one instant by time-machine, and the
bot's own clock is the production default ``utc_now``, so the bot and its scheduler agree.
Neither moves with real time, so what a test sees never depends on how fast the machine is.
The event loop's timers run on the monotonic clock, which stays real: sleeps and timeouts
still pass.

:data:`INSTANTS` are the moments the suite is also run at under libfaketime by ``.ci/run``
(``clock_matrix``), and which calendar-sensitive tests try one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

import time_machine

__all__ = ["INSTANTS", "ManualClock", "ProcessClock"]

#: The instants that broke suites before: after a close, after an early close, a weekend,
#: a holiday, the first week of daylight-saving time, New Year's Eve night.
INSTANTS: dict[str, datetime] = {
    "weekday-2h-after-close": datetime(2026, 12, 1, 23, 0, tzinfo=UTC),  # Tue, 16:00 EST + 2 h
    "1h-after-early-close": datetime(2026, 11, 27, 19, 0, tzinfo=UTC),  # 13:00 EST close + 1 h
    "saturday": datetime(2026, 11, 28, 15, 0, tzinfo=UTC),
    "holiday": datetime(2026, 11, 26, 18, 0, tzinfo=UTC),  # Thanksgiving, 13:00 EST
    "dst-45min-after-close": datetime(2027, 3, 15, 20, 45, tzinfo=UTC),  # 16:00 EDT + 45 min
    "new-years-eve-night": datetime(2027, 1, 1, 4, 30, tzinfo=UTC),  # 23:30 EST on Dec 31
}


class ManualClock:
    """A :data:`~bot.core.clock.Clock` that stands still until :meth:`advance` or :meth:`set`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        """Move forward by ``delta``."""
        self.now += delta

    def set(self, now: datetime) -> None:
        """Jump to ``now``."""
        self.now = now


class ProcessClock:
    """The whole process's clock frozen at ``start``; a context manager.

    Inside it ``datetime.now()`` and friends return ``start`` plus whatever
    :meth:`advance` added, in every thread. Use it where a library reads the clock itself.
    """

    def __init__(self, start: datetime) -> None:
        self._travel = time_machine.travel(start, tick=False)
        self._coordinates: time_machine.Coordinates | None = None

    def __enter__(self) -> Self:
        self._coordinates = self._travel.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._travel.stop()
        self._coordinates = None

    def __call__(self) -> datetime:
        return datetime.now(tz=UTC)

    def advance(self, delta: timedelta) -> None:
        """Move every clock of the process forward by ``delta``."""
        assert self._coordinates is not None, "advance() inside the with block"
        self._coordinates.shift(delta)
