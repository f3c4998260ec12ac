"""A market whose answer is known: a long calm stretch, then the headline pair couples.

Before the change the headline crypto and the headline equity move independently (their
correlation is ``low``); from the change on the equity loads on the crypto's shocks (the
correlation is ``high``). Every other asset moves on its own throughout. A jump from 0 to
0.9 after a year of calm is far beyond chance, so the alert rules must fire on it within a
few weeks: tests built on it do not hang on what one seed of the synthetic market happens
to do.

:func:`step_returns` draws the returns, :func:`write_csv_market` writes them as the
``csv`` source reads them (``<ticker>.csv``, ``date,close``), and :class:`StepSource`
serves them at the instants a refresh asks for (every asset at the session close), for
tests that run the source seam. Each symbol draws from its own stream, and a session's
return depends only on its position, so a later run sees the same past.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from bot.core.calendar import TradingCalendar
from bot.core.errors import DataError, PermanentDataError
from bot.core.models import Asset
from bot.core.sources.base import (
    FetchRequest,
    FetchResults,
    Observations,
    PriceSource,
    restrict_to_targets,
)

__all__ = ["CSV_CRYPTO", "CSV_EQUITIES", "StepSource", "step_returns", "write_csv_market"]

#: The default universe's tickers, as the csv source names the files; headline first.
CSV_CRYPTO = ("BTC-USD", "ETH-USD")
CSV_EQUITIES = ("PSCT", "IWM", "QQQ")
_CRYPTO_VOL, _EQUITY_VOL = 0.035, 0.015  # daily, like BTC and small-cap tech


def step_returns(
    cryptos: Sequence[str],
    equities: Sequence[str],
    sessions: int,
    change: int,
    *,
    low: float = 0.0,
    high: float = 0.9,
    seed: int = 5,
) -> dict[str, np.ndarray]:
    """Daily log returns per symbol over ``sessions`` sessions.

    The headline pair (``cryptos[0]``, ``equities[0]``) has correlation ``low`` before
    session ``change`` and ``high`` from it on; all other pairs are independent.
    """
    if not 0 < change < sessions:
        raise ValueError(f"the change ({change}) must fall inside the {sessions} sessions")
    symbols = [*cryptos, *equities]
    shocks = {
        symbol: np.random.default_rng([seed, index]).standard_normal(sessions)
        for index, symbol in enumerate(symbols)
    }
    rho = np.where(np.arange(sessions) >= change, high, low)
    headline, benchmark = cryptos[0], equities[0]
    shocks[benchmark] = rho * shocks[headline] + np.sqrt(1 - rho * rho) * shocks[benchmark]
    return {
        symbol: (_CRYPTO_VOL if symbol in cryptos else _EQUITY_VOL) * shocks[symbol]
        for symbol in symbols
    }


def write_csv_market(
    folder: Path,
    sessions: Sequence[date | str],
    change: int,
    *,
    low: float = 0.0,
    high: float = 0.9,
    seed: int = 5,
) -> dict[str, list[str]]:
    """Write the default universe's files over ``sessions``; returns each file's rows.

    The headline pair couples on ``sessions[change]`` (see :func:`step_returns`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    returns = step_returns(
        CSV_CRYPTO, CSV_EQUITIES, len(sessions), change, low=low, high=high, seed=seed
    )
    files = {}
    for ticker, values in returns.items():
        closes = 100 * np.exp(np.cumsum(values))
        rows = [f"{_day(d)},{c:.6f}" for d, c in zip(sessions, closes, strict=True)]
        (folder / f"{ticker}.csv").write_text("date,close\n" + "\n".join(rows) + "\n")
        files[ticker] = rows
    return files


def _day(value: date | str) -> str:
    return value if isinstance(value, str) else value.isoformat()


class StepSource(PriceSource):
    """Serves a step market over the calendar's sessions ``first`` to ``last``.

    The headline pair couples on the first session on or after ``change``. Every asset is
    priced at each session's close instant (crypto as if sampled at the equity close);
    any symbol outside ``crypto`` and ``equities`` is a permanent error.
    """

    name: ClassVar[str] = "step"
    intraday: ClassVar[bool] = True

    def __init__(
        self,
        crypto: Sequence[Asset],
        equities: Sequence[Asset],
        calendar: TradingCalendar,
        *,
        change: date,
        first: date = date(2021, 1, 4),
        last: date = date(2026, 12, 31),
        low: float = 0.0,
        high: float = 0.9,
        seed: int = 5,
    ) -> None:
        closes = calendar.closes(first, last)
        index = pd.DatetimeIndex(closes.to_numpy())
        at = int(pd.DatetimeIndex(closes.index).searchsorted(pd.Timestamp(change)))
        returns = step_returns(
            [a.symbol for a in crypto],
            [a.symbol for a in equities],
            len(index),
            at,
            low=low,
            high=high,
            seed=seed,
        )
        self.change = closes.index[at].date()
        self.prices = {
            symbol: pd.Series(100 * np.exp(np.cumsum(values)), index=index)
            for symbol, values in returns.items()
        }

    async def fetch(self, requests: Sequence[FetchRequest]) -> FetchResults:
        """Answer each request with the generated closes at its targets."""
        results: dict[str, Observations | DataError] = {}
        for request in requests:
            symbol = request.asset.symbol
            prices = self.prices.get(symbol)
            if prices is None:
                results[symbol] = PermanentDataError(f"{symbol} is not in the step market")
            else:
                found = restrict_to_targets(prices, pd.DatetimeIndex(request.targets))
                results[symbol] = Observations(symbol, found, origin=self.name)
        return results
