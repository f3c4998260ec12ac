"""Is the data still moving? Per symbol: how far behind, what is still missing, what is lost.

A bot whose source stops, or delivers an outage late and with holes, must say so: the
snapshot's "updated 0 h ago" only tells when the last refresh ran, not whether it brought
anything. This module reads the price cache only (no network, no panel), so ``corrbot
health``, ``/status`` and the daily job can all ask it, and it answers the same at any hour
for the same store and instant.

Three findings per symbol:

- *behind*: sessions whose price is due (close plus ``stale_after``) after the last one the
  store has. One session behind is the ordinary "not published yet, retry soon"; from
  :data:`FROZEN_AFTER` sessions the feed has stopped moving (``frozen``).
- *pending*: sessions inside the symbol's history without a price that are still being
  asked for on every refresh (the last ``late_retry_sessions``, see
  :class:`~bot.core.market_data.RefreshSettings`).
- *gaps*: sessions inside the symbol's history given up on (known gaps): shown, not
  asked for again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from bot.core.calendar import TradingCalendar
from bot.core.models import Asset
from bot.core.sampling import Sampling, target_instants
from bot.core.store.prices import Prices

__all__ = [
    "FROZEN_AFTER",
    "SymbolFreshness",
    "check_freshness",
    "retry_sessions",
]

#: Sessions behind from which a feed counts as frozen: one whole session went by after the
#: one that was merely late, and still nothing new arrived.
FROZEN_AFTER = 2

_SHOWN = 3  # sessions listed in one line; the rest are counted


def retry_sessions(overlap_sessions: int, late_retry_sessions: int) -> int:
    """Recent sessions a missing price is asked for again: the overlap is always re-asked."""
    return max(overlap_sessions, late_retry_sessions)


@dataclass(frozen=True, slots=True)
class SymbolFreshness:
    """How current one symbol's cached prices are (see the module docstring)."""

    symbol: str
    last_session: date | None  # the latest session with a usable price
    expected_session: date | None  # the latest session whose price is due by now
    behind: int = 0  # due sessions after ``last_session``
    pending: tuple[date, ...] = ()  # interior holes still being fetched again
    gaps: tuple[date, ...] = ()  # interior holes given up on (known gaps)

    @property
    def frozen(self) -> bool:
        """Whether the feed has stopped moving (at least :data:`FROZEN_AFTER` behind)."""
        return self.behind >= FROZEN_AFTER

    @property
    def notice_key(self) -> str:
        """Identity of "this feed froze at this session": tell admins once per freeze."""
        last = "never" if self.last_session is None else self.last_session.isoformat()
        return f"frozen:{self.symbol}:{last}"

    def problems(self) -> list[str]:
        """One readable line per finding that needs attention (known gaps are shown elsewhere)."""
        lines = []
        if self.behind:
            plural = "s" if self.behind != 1 else ""
            since = (
                "no price at all"
                if self.last_session is None
                else f"no new price since {self.last_session.isoformat()}"
            )
            lines.append(f"{self.symbol}: {since}, {self.behind} session{plural} behind")
        if self.pending:
            count = len(self.pending)
            noun = "session" if count == 1 else "sessions"
            lines.append(
                f"{self.symbol}: {count} {noun} still missing (being fetched again): "
                f"{_dates(self.pending)}"
            )
        return lines


def check_freshness(
    prices: Prices,
    calendar: TradingCalendar,
    now: datetime,
    *,
    assets: Sequence[Asset],
    history_sessions: int,
    retry: int,
    stale_after: timedelta,
    sampling: Mapping[str, Sampling],
) -> list[SymbolFreshness]:
    """Per asset, from the store alone: behind, pending and given-up sessions.

    ``retry`` is the number of recent sessions still asked for (:func:`retry_sessions`);
    ``sampling`` says which instant stands for each session of each symbol.
    """
    closes = calendar.recent_closes(history_sessions, now)
    if closes.empty:
        return [SymbolFreshness(asset.symbol, None, None) for asset in assets]
    sessions = pd.DatetimeIndex(closes.index)
    cutoff = pd.Timestamp(now).tz_convert("UTC") - stale_after
    horizon = np.arange(len(sessions)) >= len(sessions) - retry
    found = []
    for asset in assets:
        instants = pd.DatetimeIndex(
            target_instants(asset, closes, sampling.get(asset.symbol, "equity_close"))
        )
        cached = prices.load(asset.symbol, since=instants[0])
        usable = cached[cached > 0].index
        present = instants.isin(usable)
        due = instants <= cutoff
        expected = sessions[due][-1].date() if due.any() else None
        where = np.flatnonzero(present)
        if not len(where):
            found.append(
                SymbolFreshness(
                    asset.symbol, None, expected, behind=int(due.sum()) if due.any() else 0
                )
            )
            continue
        first, last = int(where[0]), int(where[-1])
        behind = int((due & (np.arange(len(sessions)) > last)).sum())
        holes = ~present & (np.arange(len(sessions)) > first) & (np.arange(len(sessions)) < last)
        known = instants.isin(prices.known_gaps(asset.symbol))
        pending = holes & horizon & ~instants.isin(cached.index)
        gaps = holes & ~pending & (known | ~horizon)
        found.append(
            SymbolFreshness(
                asset.symbol,
                last_session=sessions[last].date(),
                expected_session=expected,
                behind=behind,
                pending=tuple(d.date() for d in sessions[pending]),
                gaps=tuple(d.date() for d in sessions[gaps]),
            )
        )
    return found


def _dates(days: Sequence[date]) -> str:
    shown = ", ".join(d.isoformat() for d in days[:_SHOWN])
    more = f" and {len(days) - _SHOWN} more" if len(days) > _SHOWN else ""
    return shown + more
