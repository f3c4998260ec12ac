"""Calibration: how often the configured rules alert on history, and on nulls of it.

An alert rate means little without its false-alarm rate beside it. So the real history of
each alerting pair goes through the live engine (rules, then episodes, exactly as
``corrbot backtest`` sends them), and so do ``paths`` null histories built from it in which
the correlation never changes. Whatever the rules send on a null is a false alarm by
construction. Three nulls, each keeping a different part of the real data:

* ``circular``: the crypto's returns circularly shifted against the equity's by a random
  offset. Both legs keep their own volatility, fat tails and gaps; the true correlation is 0.
* ``gaussian``: Gaussian returns at the pair's observed average correlation, scaled by each
  leg's real volatility path (crashes stay where they were, the correlation does not move).
* ``t4``: as ``gaussian`` with multivariate Student-t innovations (4 degrees of freedom):
  a common shock that hits both legs at once, the hardest null for a correlation rule.

The nulls go through the engine in chunks of paths at once (arrays of shape
(paths, sessions)), so a thousand ten-year histories take seconds.

Long because the three nulls, the batched run through the engine and the rates it reports
are one measurement; split, each part would be meaningless without the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.core.engine import AlertEngine, PairScan, PairState
from bot.core.models import Alert, AlertKind, Pair
from bot.core.rules import RULES
from bot.core.rules.signals import devolatilized

__all__ = [
    "CALIBRATION_COLUMNS",
    "MEASURES",
    "NULLS",
    "CalibrationResult",
    "Period",
    "RateRow",
    "calibrate",
    "needed_sessions",
    "null_histories",
]

NULLS = ("circular", "gaussian", "t4")
#: ``pushed``: the messages that notify; ``silent``: follow-ups inside an episode;
#: ``events``: what the rule would push on its own, before episodes (band crossings, fires).
MEASURES = ("pushed", "silent", "events")
SESSIONS_PER_YEAR = 252
CHUNK_PATHS = 100  # paths per vectorized pass: memory stays at tens of MB
T_DEGREES = 4.0
MIN_OFFSET = 60  # sessions: a circular shift never lines a leg up with itself
VOL_SPAN = 21  # sessions of the centred window that measures each leg's volatility path

CALIBRATION_COLUMNS = (
    "pair",
    "rule",
    "measure",
    "period",
    "start",
    "end",
    "years",
    "real_per_year",
    "null",
    "paths",
    "null_mean",
    "null_p05",
    "null_p95",
    "null_at_or_above_real",
)

_RULE_OF: dict[AlertKind, str] = {kind: rule.NAME for rule in RULES for kind in rule.KINDS}


@dataclass(frozen=True, slots=True)
class Period:
    """A named stretch of sessions the rates are counted over (both ends included)."""

    name: str
    start: date
    end: date


@dataclass(frozen=True, slots=True)
class RateRow:
    """One rule's rate on one pair and period: real, and on one null (mean, 90% range)."""

    pair: Pair
    rule: str
    measure: str
    period: Period
    years: float
    real_per_year: float
    null: str
    paths: int
    null_mean: float
    null_p05: float
    null_p95: float
    null_at_or_above_real: float  # share of null paths alerting at least as often as real

    def values(self) -> tuple[object, ...]:
        """The row in :data:`CALIBRATION_COLUMNS` order."""
        return (
            str(self.pair),
            self.rule,
            self.measure,
            self.period.name,
            self.period.start.isoformat(),
            self.period.end.isoformat(),
            round(self.years, 2),
            round(self.real_per_year, 3),
            self.null,
            self.paths,
            round(self.null_mean, 3),
            round(self.null_p05, 3),
            round(self.null_p95, 3),
            round(self.null_at_or_above_real, 3),
        )


@dataclass(frozen=True)
class CalibrationResult:
    """Every rate, and the real alerts they were counted from."""

    rows: tuple[RateRow, ...]
    real_alerts: tuple[Alert, ...]
    correlations: dict[Pair, float]  # the constant correlation of the parametric nulls

    def frame(self) -> pd.DataFrame:
        """The rows as a table with :data:`CALIBRATION_COLUMNS`."""
        return pd.DataFrame([row.values() for row in self.rows], columns=list(CALIBRATION_COLUMNS))


Progress = Callable[[int], None]


def calibrate(
    engine: AlertEngine,
    returns: pd.DataFrame,
    pairs: Sequence[Pair],
    periods: Sequence[Period],
    *,
    paths: int,
    seed: int,
    progress: Progress | None = None,
) -> CalibrationResult:
    """Alert rates of ``engine`` per pair, rule and period, on ``returns`` and on nulls.

    Each null path is walked exactly as a backtest from the first period's start would
    be: silently before it, then every alert counted in the period of its session.
    ``progress`` is called with the number of null paths just finished.
    """
    if paths < 1:
        raise ValueError("paths must be at least 1")
    rows: list[RateRow] = []
    real_alerts: list[Alert] = []
    correlations: dict[Pair, float] = {}
    seeds = np.random.SeedSequence(seed)
    for pair, pair_seed in zip(pairs, seeds.spawn(len(pairs)), strict=True):
        both = returns[[pair.crypto, pair.equity]]
        both = both.loc[_span(both, pair, engine)]
        sessions = tuple(pd.DatetimeIndex(both.index).date)
        crypto = both[pair.crypto].to_numpy(dtype="float64")
        equity = both[pair.equity].to_numpy(dtype="float64")
        [real] = engine.scans(pair, sessions, crypto[None, :], equity[None, :])
        real_counts, real_years = _counts([real], engine, periods)
        real_alerts.extend(_walk(real, engine, periods[0].start))
        correlations[pair] = observed_correlation(crypto, equity, engine)
        for null, null_seed in zip(NULLS, pair_seed.spawn(len(NULLS)), strict=True):
            rng = np.random.default_rng(null_seed)
            counts: dict[tuple[str, str, str], list[float]] = {}
            years: dict[str, list[float]] = {period.name: [] for period in periods}
            for chunk in _chunks(paths):
                c, e = null_histories(
                    null, crypto, equity, paths=chunk, rng=rng, correlation=correlations[pair]
                )
                scans = engine.scans(pair, sessions, c, e)
                chunk_counts, chunk_years = _counts(scans, engine, periods)
                for key, values in chunk_counts.items():
                    counts.setdefault(key, []).extend(values)
                for name, values in chunk_years.items():
                    years[name].extend(values)
                if progress is not None:
                    progress(chunk)
            rows.extend(
                _rows(
                    pair,
                    null,
                    periods=periods,
                    real_counts=real_counts,
                    real_years=real_years,
                    counts=counts,
                    years=years,
                )
            )
    return CalibrationResult(tuple(rows), tuple(real_alerts), correlations)


def needed_sessions(engine: AlertEngine) -> int:
    """The fewest sessions with both prices before the ``shift`` rule can say anything."""
    shift = engine.settings.shift
    return max(10, math.ceil(shift.vol_halflife)) + shift.baseline + shift.window + 1


def _span(frame: pd.DataFrame, pair: Pair, engine: AlertEngine) -> slice:
    """From the first to the last session with both prices.

    A circular null must not rotate the years before one leg existed into the history.
    """
    both = frame.notna().all(axis=1)
    index = pd.DatetimeIndex(frame.index[both])
    needed = needed_sessions(engine)
    if len(index) < needed:
        settings = engine.settings.shift
        raise ValueError(
            f"{pair} has {len(index)} sessions with both prices, fewer than the {needed} the "
            f"rules need (analysis.headline_window {settings.window} + "
            f"alerts.shift.baseline_sessions {settings.baseline} + volatility warm-up): "
            "start earlier (--start) or keep more history (data.history_sessions)"
        )
    return slice(index[0], index[-1])


def _chunks(paths: int) -> Iterator[int]:
    done = 0
    while done < paths:
        size = min(CHUNK_PATHS, paths - done)
        done += size
        yield size


def observed_correlation(crypto: np.ndarray, equity: np.ndarray, engine: AlertEngine) -> float:
    """The pair's average correlation: of its volatility-scaled returns, over all sessions.

    Scaled as the ``shift`` rule sees them, so a few crashes do not set the null's level.
    """
    shift = engine.settings.shift
    warmup = max(10, math.ceil(shift.vol_halflife))
    u = devolatilized(crypto[None, :], shift.vol_halflife, warmup)[0]
    v = devolatilized(equity[None, :], shift.vol_halflife, warmup)[0]
    both = ~(np.isnan(u) | np.isnan(v))
    if both.sum() < 3:
        return 0.0
    return float(np.corrcoef(u[both], v[both])[0, 1])


def null_histories(
    null: str,
    crypto: np.ndarray,
    equity: np.ndarray,
    *,
    paths: int,
    rng: np.random.Generator,
    correlation: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``paths`` histories of the pair whose correlation never changes, shape (paths, T)."""
    sessions = crypto.shape[0]
    if null == "circular":
        high = max(MIN_OFFSET + 1, sessions - MIN_OFFSET)
        offsets = rng.integers(MIN_OFFSET, high, size=paths)
        index = (np.arange(sessions)[None, :] - offsets[:, None]) % sessions
        return crypto[index], np.tile(equity, (paths, 1))
    if null not in ("gaussian", "t4"):
        raise ValueError(f"unknown null {null!r}: one of {', '.join(NULLS)}")
    first = rng.standard_normal((paths, sessions))
    second = correlation * first + math.sqrt(1 - correlation**2) * rng.standard_normal(
        (paths, sessions)
    )
    if null == "t4":  # one chi-square draw per session scales both legs: a common shock
        scale = np.sqrt((T_DEGREES - 2) / rng.chisquare(T_DEGREES, (paths, sessions)))
        first, second = first * scale, second * scale
    vol_c, vol_e = volatility_path(crypto), volatility_path(equity)
    c = np.where(np.isnan(crypto), np.nan, first * vol_c)
    e = np.where(np.isnan(equity), np.nan, second * vol_e)
    return c, e


def volatility_path(returns: np.ndarray) -> np.ndarray:
    """Each session's volatility: the RMS of the returns in a centred window around it."""
    squares = pd.Series(np.square(returns))
    variance = squares.rolling(VOL_SPAN, center=True, min_periods=5).mean()
    filled = variance.ffill().bfill().to_numpy(dtype="float64")
    result: np.ndarray = np.sqrt(filled)
    return result


def _walk(scan: PairScan, engine: AlertEngine, start: date) -> list[Alert]:
    """The alerts a backtest from ``start`` sends on this history (warmed up before it)."""
    before = (pd.Timestamp(start) - pd.Timedelta(days=1)).date()
    state, _ = engine.advance(scan, PairState(), mode="backtest", until=before, told=False)
    _, alerts = engine.advance(scan, state, mode="backtest")
    return alerts


def _counts(
    scans: Sequence[PairScan], engine: AlertEngine, periods: Sequence[Period]
) -> tuple[dict[tuple[str, str, str], list[float]], dict[str, list[float]]]:
    """Per (rule, measure, period), each path's count; per period, each path's years."""
    counts: dict[tuple[str, str, str], list[float]] = {}
    years: dict[str, list[float]] = {period.name: [] for period in periods}
    if not scans:
        return counts, years
    days = np.array(scans[0].sessions, dtype="datetime64[D]")
    inside = {
        period.name: (days >= np.datetime64(period.start)) & (days <= np.datetime64(period.end))
        for period in periods
    }
    for scan in scans:
        alerts = _walk(scan, engine, periods[0].start)
        known = ~np.isnan(scan.z)
        for period in periods:
            years[period.name].append(
                float(np.sum(known & inside[period.name])) / SESSIONS_PER_YEAR
            )
            tally = dict.fromkeys(
                ((rule.NAME, measure, period.name) for rule in RULES for measure in MEASURES), 0
            )
            for alert in alerts:
                if period.start <= alert.session <= period.end:
                    measure = "pushed" if alert.notify else "silent"
                    tally[(_RULE_OF[alert.kind], measure, period.name)] += 1
            for event in scan.events:
                day = scan.sessions[event.position]
                if not event.closes and period.start <= day <= period.end:
                    tally[(_RULE_OF[event.kind], "events", period.name)] += 1
            for key, count in tally.items():
                counts.setdefault(key, []).append(float(count))
    return counts, years


def _rows(
    pair: Pair,
    null: str,
    *,
    periods: Sequence[Period],
    real_counts: dict[tuple[str, str, str], list[float]],
    real_years: dict[str, list[float]],
    counts: dict[tuple[str, str, str], list[float]],
    years: dict[str, list[float]],
) -> list[RateRow]:
    rows = []
    for period in periods:
        real_span = real_years[period.name][0]
        spans = np.array(years[period.name])
        for rule in RULES:
            for measure in MEASURES:
                key = (rule.NAME, measure, period.name)
                real = _rate(real_counts[key][0], real_span)
                with np.errstate(invalid="ignore", divide="ignore"):
                    rates = np.where(spans > 0, np.array(counts[key]) / spans, np.nan)
                rates = rates[~np.isnan(rates)]
                if rates.size == 0:
                    rates = np.array([math.nan])
                rows.append(
                    RateRow(
                        pair=pair,
                        rule=rule.NAME,
                        measure=measure,
                        period=period,
                        years=real_span,
                        real_per_year=real,
                        null=null,
                        paths=int(spans.size),
                        null_mean=float(np.mean(rates)),
                        null_p05=float(np.quantile(rates, 0.05)),
                        null_p95=float(np.quantile(rates, 0.95)),
                        null_at_or_above_real=float(np.mean(rates >= real - 1e-12)),
                    )
                )
    return rows


def _rate(count: float, years: float) -> float:
    return count / years if years > 0 else math.nan
