"""A deterministic, seeded synthetic market: the offline default for the demo and the tests.

The market is built so that the right answer is known: every NYSE session belongs to an
injected *regime* with a target correlation ``rho`` between the headline crypto and the
headline equity, and the generator draws returns that have exactly that correlation in
expectation. Tests recover the regimes from the prices; the demo shows them on a chart.

Model, per session interval ``k`` (from the previous session close to this one):

* a common tech factor ``F`` and a common crypto factor ``G``, independent;
* equity ``i``: ``z = a_i F + sqrt(1 - a_i^2) eps_i`` with loadings ``a = 1.0, 0.9, 0.8, ...``
  so the first (headline small-cap tech) equity is the purest expression of the factor;
* crypto ``j``: ``z = beta F + sqrt(1 - beta^2) (g G + sqrt(1 - g^2) eta_j)`` with
  ``beta = rho_k b_j`` and ``b = 1.0, 0.85, 0.75, ...``. Hence ``corr(crypto_j, equity_i) =
  rho_k b_j a_i``: the first crypto correlates most with the first equity, and cryptos stay
  strongly correlated with each other (``g = 0.9``) even when decoupled from equities, as
  BTC and ETH are in reality;
* all shocks are Student-t with 5 degrees of freedom scaled to unit variance (fat tails,
  but a finite fourth moment so that an episode's sample correlation is a usable
  estimate), clipped at 8 standard deviations so the worst day stays plausible;
* returns are ``drift + vol * z``, with daily vols of ~3.5% (BTC) and ~1.5% (small-cap
  tech), raised in crash and sell-off episodes. Crypto trades every day, so its interval
  return carries the variance and drift of every calendar day in the interval: a weekend
  move lands in Monday's session return;
* each crypto interval return is spread over the hours of the interval with a Brownian
  bridge, so the hourly path looks like a random walk and compounds exactly to the
  interval return: the hourly price at a session close *is* the session price.

Because crypto carries three days of variance over a weekend but equities one session,
the pooled Pearson correlation of session returns over an episode is about ``0.97 rho``
(a slight dilution by the heavier weekend intervals), well inside sampling noise.

Prefix stability: the price at an instant must not depend on the requested range, on
today's date or on how far the calendar extends. Everything is generated in calendar-year
blocks; each block draws from its own random streams, seeded by ``(seed, year, stream)``
and sized by constants rather than by the number of sessions the calendar knows, and its
regime schedule is positioned by session number within the year. Extending the calendar
therefore only appends sessions (and hours) without changing any earlier draw.

Long because the model above is one piece: the regimes, the factors, the volatility path
and the hourly bridge only give the stated correlations together.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import ClassVar

import numpy as np
import numpy.typing as npt
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

__all__ = ["InjectedRegime", "SyntheticMarket", "SyntheticSource"]

FloatArray = npt.NDArray[np.float64]

_HOUR = pd.Timedelta(hours=1)
#: Draws per block are sized by these bounds, never by the calendar, for prefix stability.
_MAX_SESSIONS = 260  # an NYSE year has at most 253 sessions
_MAX_HOURS = 9_000  # from one year's last close to the next year's: at most ~369 days
_TAIL_DF = 5
_CLIP = 8.0
_CRYPTO_COMMON = 0.9  # loading of every crypto on the common crypto factor
_BASE_PRICE = 100.0  # every asset starts at an index level of 100 at the first session
_JITTER = 6  # a seed moves each episode boundary by up to this many sessions

# Stream tags of the per-block random generators.
_SCHEDULE, _COMMON, _EQUITY, _CRYPTO = range(4)

_EQUITY_VOL = (0.015, 0.013, 0.012)  # daily: small-cap tech, Russell 2000, large-cap tech
_EQUITY_VOL_DEFAULT = 0.014
_CRYPTO_VOL = (0.035, 0.045)  # daily: BTC, ETH
_CRYPTO_VOL_DEFAULT = 0.055


@dataclass(frozen=True, slots=True)
class InjectedRegime:
    """An episode of sessions whose returns were drawn with target correlation ``rho``.

    ``rho`` is the correlation between the first crypto and the first equity; ``label`` is
    ``decoupled``, ``linked``, ``coupled`` or (rarely, in unscripted years) ``inverse``.
    """

    label: str
    first_session: date
    last_session: date
    rho: float


@dataclass(frozen=True, slots=True)
class _Mood:
    """How an episode moves markets: its coupling, volatility multipliers and drifts."""

    label: str
    rho: float
    equity_vol: float = 1.0
    crypto_vol: float = 1.0
    equity_drift: float = 0.0004  # log return per session
    crypto_drift: float = 0.0012  # log return per calendar day


def _decoupled(rho: float) -> _Mood:
    return _Mood("decoupled", rho, equity_vol=0.9, crypto_drift=0.0015)


def _linked(rho: float) -> _Mood:
    return _Mood("linked", rho, equity_drift=0.0003, crypto_drift=0.001)


#: A liquidity crash: everything sells off together, violently and briefly.
_CRASH = _Mood("coupled", 0.7, 3.0, 2.0, -0.002, -0.003)
#: A long rate-driven sell-off: risk assets fall together for most of a year.
_SELLOFF = _Mood("coupled", 0.6, 1.6, 1.3, -0.0012, -0.0025)
#: Crypto as a hedge: rare, only in unscripted years.
_INVERSE = _Mood("inverse", -0.3, equity_drift=0.0003, crypto_drift=0.001)

#: An episode plan: moods with their nominal lengths in sessions; the last runs to year end.
_Plan = tuple[tuple[_Mood, int], ...]

#: 2015-2024 follow the story of the real market so the demo looks familiar: quiet,
#: decoupled years, linked spells, the March 2020 crash spike and the 2022 sell-off.
_SCRIPT: dict[int, _Plan] = {
    2015: ((_decoupled(0.0), 0),),
    2016: ((_decoupled(0.05), 120), (_decoupled(0.0), 0)),
    2017: ((_decoupled(0.1), 0),),
    2018: ((_decoupled(0.05), 150), (_linked(0.3), 0)),
    2019: ((_decoupled(0.1), 0),),
    2020: ((_decoupled(0.05), 65), (_CRASH, 75), (_linked(0.4), 0)),
    2021: ((_linked(0.35), 100), (_decoupled(0.15), 75), (_linked(0.4), 0)),
    2022: ((_SELLOFF, 180), (_linked(0.45), 0)),
    2023: ((_linked(0.3), 100), (_decoupled(0.1), 0)),
    2024: ((_decoupled(0.1), 80), (_linked(0.35), 0)),
}

#: Other years pick one of these (with these weights); their rhos vary by +-0.05 per seed.
_TEMPLATES: tuple[tuple[float, _Plan], ...] = (
    (0.35, ((_decoupled(0.05), 0),)),
    (0.20, ((_decoupled(0.05), 120), (_linked(0.35), 0))),
    (0.20, ((_linked(0.35), 130), (_decoupled(0.05), 0))),
    (0.10, ((_decoupled(0.05), 65), (_CRASH, 75), (_linked(0.4), 0))),
    (0.10, ((_SELLOFF, 180), (_linked(0.35), 0))),
    (0.05, ((_decoupled(0.05), 90), (_INVERSE, 80), (_decoupled(0.05), 0))),
)


def _rng(seed: int, year: int, stream: int, index: int = 0) -> np.random.Generator:
    """Open the independent stream of one (seed, year block, purpose, asset position)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(year, stream, index)))


def _shocks(rng: np.random.Generator, size: int) -> FloatArray:
    """Unit-variance Student-t shocks, clipped at ``_CLIP`` standard deviations."""
    scale = math.sqrt((_TAIL_DF - 2) / _TAIL_DF)
    return np.clip(rng.standard_t(_TAIL_DF, size) * scale, -_CLIP, _CLIP)


def _year_schedule(seed: int, year: int) -> tuple[list[int], list[_Mood]]:
    """Where each episode of ``year`` starts (session number in the year) and its mood."""
    rng = _rng(seed, year, _SCHEDULE)
    plan = _SCRIPT.get(year)
    if plan is None:
        weights = np.array([weight for weight, _ in _TEMPLATES])
        plan = _TEMPLATES[int(rng.choice(len(_TEMPLATES), p=weights / weights.sum()))][1]
        plan = tuple(
            (
                replace(mood, rho=round(mood.rho + rng.uniform(-0.05, 0.05), 3))
                if mood.label in {"decoupled", "linked"}
                else mood,
                length,
            )
            for mood, length in plan
        )
    starts, moods, position = [0], [plan[0][0]], 0
    for (_, length), (mood, _) in itertools.pairwise(plan):
        position += length
        starts.append(position + int(rng.integers(-_JITTER, _JITTER + 1)))
        moods.append(mood)
    return starts, moods


def _loading(position: int, first: float, second: float) -> float:
    """Return the factor loading at ``position``: falling by 0.1 per place, floored at 0.3."""
    return first if position == 0 else max(0.3, second - 0.1 * (position - 1))


@dataclass(frozen=True, slots=True)
class _Block:
    """One calendar year of draws: per-session equity returns, per-hour crypto returns."""

    sessions: pd.DatetimeIndex  # session dates (naive)
    closes: pd.DatetimeIndex  # their close instants (naive UTC)
    moods: list[_Mood]  # per session
    equity: FloatArray  # sessions x equities, log returns
    hours: pd.DatetimeIndex  # whole hours after the previous year's last close (naive UTC)
    crypto: FloatArray  # hours x cryptos, log returns of the hour ending there


class SyntheticMarket:
    """The generated history of a universe, from ``start`` to the calendar's last session.

    Attributes (all indexed in UTC unless said otherwise):

    * ``crypto``: hourly prices of every crypto, one column per symbol, every whole hour
      from the first session close on (weekends included);
    * ``equities``: closes of every equity at each session close instant;
    * ``target_rho``: the injected correlation per session, indexed by session date;
    * ``regimes``: the injected episodes, in order.

    ``end`` stops generation early (prices before it are unaffected), e.g. for tests.
    """

    sessions: pd.Series  # session date -> UTC close instant
    crypto: pd.DataFrame
    equities: pd.DataFrame
    target_rho: pd.Series
    regimes: tuple[InjectedRegime, ...]

    def __init__(
        self,
        crypto: Sequence[str],
        equities: Sequence[str],
        calendar: TradingCalendar,
        *,
        seed: int = 7,
        start: date = date(2015, 1, 2),
        end: date | None = None,
    ) -> None:
        if seed < 0:
            raise ValueError(f"the synthetic seed must be >= 0, got {seed}")
        self.seed = seed
        self.crypto_symbols = tuple(crypto)
        self.equity_symbols = tuple(equities)
        all_closes = calendar.closes(last=end)
        years = pd.DatetimeIndex(all_closes.index).year
        first_year = max(start.year, int(years.min())) if len(years) else start.year
        last_year = int(years.max()) if len(years) else start.year - 1
        blocks = [self._block(year, all_closes) for year in range(first_year, last_year + 1)]
        self._assemble(blocks, pd.Timestamp(start))

    def at_sessions(self) -> pd.DataFrame:
        """Every asset's price at each session close, indexed by session date."""
        frame = self.crypto.reindex(pd.DatetimeIndex(self.sessions)).join(self.equities)
        frame.index = self.sessions.index
        return frame

    def _block(self, year: int, all_closes: pd.Series) -> _Block:
        """Draw one calendar year; the draws depend only on the seed, the year and positions."""
        index = pd.DatetimeIndex(all_closes.index)
        in_year = index.year == year
        closes = pd.DatetimeIndex(all_closes[in_year]).tz_convert(None)
        before = all_closes[index < pd.Timestamp(year, 1, 1)]
        previous = (
            pd.Timestamp(before.iloc[-1]).tz_convert(None)
            if len(before)
            else closes[0] - pd.Timedelta(days=1)
        )
        n = len(closes)
        ends = np.asarray((closes - previous) / _HOUR)
        if not np.allclose(ends, np.round(ends)):
            raise ValueError("session closes must fall on whole hours")
        ends = np.round(ends).astype(np.int64)
        span = np.diff(ends, prepend=0)  # hours in each session interval
        if n > _MAX_SESSIONS or ends[-1] > _MAX_HOURS:
            raise ValueError(f"{year} has more sessions or hours than the generator allows")

        starts, plan = _year_schedule(self.seed, year)
        moods = [plan[i] for i in np.searchsorted(starts, np.arange(n), side="right") - 1]
        rho = np.array([m.rho for m in moods])

        common = _rng(self.seed, year, _COMMON)
        tech, coin = _shocks(common, _MAX_SESSIONS)[:n], _shocks(common, _MAX_SESSIONS)[:n]
        coin_hourly = common.standard_normal(_MAX_HOURS)[: ends[-1]]

        equity = np.empty((n, len(self.equity_symbols)))
        equity_vol = np.array([m.equity_vol for m in moods])
        equity_drift = np.array([m.equity_drift for m in moods])
        for i in range(len(self.equity_symbols)):
            a = _loading(i, 1.0, 0.9)
            eps = _shocks(_rng(self.seed, year, _EQUITY, i), _MAX_SESSIONS)[:n]
            z = a * tech + math.sqrt(1 - a * a) * eps
            vol = _EQUITY_VOL[i] if i < len(_EQUITY_VOL) else _EQUITY_VOL_DEFAULT
            equity[:, i] = equity_drift + vol * equity_vol * z

        interval = np.searchsorted(ends, np.arange(1, ends[-1] + 1), side="left")
        days = span / 24
        crypto = np.empty((ends[-1], len(self.crypto_symbols)))
        crypto_vol = np.array([m.crypto_vol for m in moods])
        crypto_drift = np.array([m.crypto_drift for m in moods])
        g = _CRYPTO_COMMON
        for j in range(len(self.crypto_symbols)):
            own = _rng(self.seed, year, _CRYPTO, j)
            eta, own_hourly = _shocks(own, _MAX_SESSIONS)[:n], own.standard_normal(_MAX_HOURS)
            beta = rho * _loading(j, 1.0, 0.85)
            z = beta * tech + np.sqrt(1 - beta * beta) * (g * coin + math.sqrt(1 - g * g) * eta)
            sigma = (_CRYPTO_VOL[j] if j < len(_CRYPTO_VOL) else _CRYPTO_VOL_DEFAULT) * crypto_vol
            total = crypto_drift * days + sigma * np.sqrt(days) * z
            # Brownian bridge: a random walk per hour, shifted so each interval sums exactly.
            noise = g * coin_hourly + math.sqrt(1 - g * g) * own_hourly[: ends[-1]]
            steps = (sigma / math.sqrt(24))[interval] * noise
            excess = np.bincount(interval, weights=steps, minlength=n) - total
            crypto[:, j] = steps - (excess / span)[interval]

        hours = pd.date_range(previous + _HOUR, periods=int(ends[-1]), freq="h")
        return _Block(
            sessions=pd.DatetimeIndex(all_closes.index[in_year]),
            closes=closes,
            moods=moods,
            equity=equity,
            hours=hours,
            crypto=crypto,
        )

    def _assemble(self, blocks: list[_Block], start: pd.Timestamp) -> None:
        """Chain the yearly blocks into price levels that start at ``_BASE_PRICE``."""
        sessions = pd.DatetimeIndex(pd.DatetimeIndex([]).append([b.sessions for b in blocks]))
        keep = sessions >= start
        if not keep.any():  # the calendar ends before ``start``: an empty market
            empty = pd.DatetimeIndex([], tz="UTC")
            self.sessions = pd.Series(empty, index=pd.DatetimeIndex([]), name="close")
            self.crypto = pd.DataFrame(index=empty, columns=list(self.crypto_symbols), dtype=float)
            self.equities = pd.DataFrame(
                index=empty, columns=list(self.equity_symbols), dtype=float
            )
            self.target_rho = pd.Series(index=pd.DatetimeIndex([]), dtype=float, name="rho")
            self.regimes = ()
            return
        closes = pd.DatetimeIndex(np.concatenate([b.closes.to_numpy() for b in blocks]))
        hours = pd.DatetimeIndex(np.concatenate([b.hours.to_numpy() for b in blocks]))
        moods = [mood for b in blocks for mood in b.moods]
        first = int(np.argmax(keep))

        equity = np.cumsum(np.concatenate([b.equity for b in blocks]), axis=0)
        equity = _BASE_PRICE * np.exp(equity[first:] - equity[first])
        crypto = np.cumsum(np.concatenate([b.crypto for b in blocks]), axis=0)
        origin = int(hours.searchsorted(closes[first]))
        crypto = _BASE_PRICE * np.exp(crypto[origin:] - crypto[origin])

        utc_closes = closes[keep].tz_localize("UTC")
        self.sessions = pd.Series(utc_closes, index=sessions[keep], name="close")
        self.equities = pd.DataFrame(equity, index=utc_closes, columns=list(self.equity_symbols))
        self.crypto = pd.DataFrame(
            crypto, index=hours[origin:].tz_localize("UTC"), columns=list(self.crypto_symbols)
        )
        kept = moods[first:]
        self.target_rho = pd.Series([m.rho for m in kept], index=sessions[keep], name="rho")
        self.regimes = _episodes(sessions[keep], kept)


def _episodes(sessions: pd.DatetimeIndex, moods: list[_Mood]) -> tuple[InjectedRegime, ...]:
    """Group sessions into runs of one label and rho (merged across year boundaries)."""
    episodes: list[InjectedRegime] = []
    for day, mood in zip(sessions, moods, strict=True):
        last = episodes[-1] if episodes else None
        if last is not None and (last.label, last.rho) == (mood.label, mood.rho):
            episodes[-1] = replace(last, last_session=day.date())
        else:
            episodes.append(InjectedRegime(mood.label, day.date(), day.date(), mood.rho))
    return tuple(episodes)


class SyntheticSource(PriceSource):
    """Serves prices from a :class:`SyntheticMarket` over the configured universe.

    The market is generated on the first fetch (well under a second) and kept. Only the
    symbols given here exist; any other is a :class:`PermanentDataError`.
    """

    name: ClassVar[str] = "synthetic"
    intraday: ClassVar[bool] = True

    def __init__(
        self,
        crypto: Sequence[Asset],
        equities: Sequence[Asset],
        calendar: TradingCalendar,
        *,
        seed: int = 7,
        start: date = date(2015, 1, 2),
    ) -> None:
        self._crypto = tuple(a.symbol for a in crypto)
        self._equities = tuple(a.symbol for a in equities)
        self._calendar = calendar
        self._seed = seed
        self._start = start

    @functools.cached_property
    def market(self) -> SyntheticMarket:
        """The generated market (built once, on first use)."""
        return SyntheticMarket(
            self._crypto, self._equities, self._calendar, seed=self._seed, start=self._start
        )

    async def fetch(self, requests: Sequence[FetchRequest]) -> FetchResults:
        """Answer each request with the generated prices at its targets."""
        results: dict[str, Observations | DataError] = {}
        for request in requests:
            results[request.asset.symbol] = self._observe(request)
        return results

    def _observe(self, request: FetchRequest) -> Observations | DataError:
        asset = request.asset
        frame = self.market.crypto if asset.is_crypto else self.market.equities
        if asset.symbol not in frame.columns:
            known = ", ".join(frame.columns) or "none"
            return PermanentDataError(
                f"{asset.symbol} is not in the synthetic market ({asset.kind.value} symbols: "
                f"{known}); the synthetic source only prices the configured universe"
            )
        closes = restrict_to_targets(frame[asset.symbol], pd.DatetimeIndex(request.targets))
        return Observations(asset.symbol, closes, origin=self.name)
