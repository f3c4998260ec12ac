"""The one interface every market data source implements, and the timestamp conventions.

A source is asked for prices *at given instants* (UTC), not for "bars": the refresh decides
which instants each NYSE session needs and the source answers with what it has.

Timestamp conventions (``observation time`` = when the close price was observed):

* an equity's daily close for session ``D`` is observed at the session close of ``D``
  (16:00 New York, 13:00 on early-close days), see :func:`equity_close_times`;
* a crypto daily candle for UTC day ``D`` closes at 00:00 UTC of ``D + 1``,
  see :func:`crypto_daily_close_times`;
* an hourly candle opening at ``H`` closes at ``H + 1h``; NYSE closes fall on whole hours,
  so the price at a session's close is the close of the hourly candle that ends there.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import pandas as pd

from bot.core.calendar import TradingCalendar
from bot.core.errors import DataError
from bot.core.models import Asset

__all__ = [
    "FetchRequest",
    "FetchResults",
    "Observations",
    "PriceSource",
    "crypto_daily_close_times",
    "equity_close_times",
    "restrict_to_targets",
]


@dataclass(frozen=True, slots=True)
class FetchRequest:
    """Prices wanted for one asset: the UTC instants (sorted, unique) its sessions need."""

    asset: Asset
    targets: pd.DatetimeIndex

    @property
    def start(self) -> pd.Timestamp:
        """The earliest instant wanted."""
        return pd.Timestamp(self.targets[0])

    @property
    def end(self) -> pd.Timestamp:
        """The latest instant wanted."""
        return pd.Timestamp(self.targets[-1])


@dataclass(frozen=True, slots=True)
class Observations:
    """Closes a source found, indexed by UTC observation time (a subset of the targets)."""

    symbol: str
    closes: pd.Series
    origin: str  # where they came from, e.g. "ccxt:kraken" or "csv:BTC-USD.csv"


#: Per symbol, either what was found or why nothing could be.
FetchResults = Mapping[str, Observations | DataError]


class PriceSource(abc.ABC):
    """Fetches closes at requested instants; translates third-party errors to ``DataError``.

    ``intraday`` says whether the source can price crypto at any whole hour (needed to
    sample crypto at the NYSE close); daily-only sources serve the daily close instead.
    """

    name: ClassVar[str]
    intraday: ClassVar[bool]
    #: Whether one call should carry every symbol (yfinance downloads a batch at once);
    #: otherwise the refresh asks one symbol at a time and can show progress per symbol.
    batch_requests: ClassVar[bool] = False

    @abc.abstractmethod
    async def fetch(self, requests: Sequence[FetchRequest]) -> FetchResults:
        """Fetch every request; one symbol's failure never hides another's data."""

    async def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release network sessions; called once at shutdown."""


def equity_close_times(days: pd.DatetimeIndex, calendar: TradingCalendar) -> pd.Series:
    """Map daily bar dates to their session close (UTC); dates that are not sessions drop."""
    days = pd.DatetimeIndex(days).normalize()
    closes = calendar.closes()
    known = days.isin(closes.index)
    return pd.Series(closes.reindex(days[known]).to_numpy(), index=days[known])


def crypto_daily_close_times(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Map UTC calendar days to the instant their daily candle closes (next midnight UTC)."""
    days = pd.DatetimeIndex(days)
    naive = days.tz_convert(None) if days.tz is not None else days
    return (naive.normalize() + pd.Timedelta(days=1)).tz_localize("UTC")


def restrict_to_targets(closes: pd.Series, targets: pd.DatetimeIndex) -> pd.Series:
    """Keep only the observations at requested instants, sorted, as floats."""
    closes = closes[~closes.index.duplicated(keep="last")].sort_index()
    return closes[closes.index.isin(targets)].astype("float64")
