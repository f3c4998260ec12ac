"""The latest session at a glance: every pair and window with its uncertainty, and the tests.

A snapshot is what ``/corr`` shows and what an alert's context is drawn from. It is a
plain frozen value, serializable to JSON, so chat commands read it from the store instead
of recomputing anything or waiting on an exchange. Every correlation in it carries the
sessions it used and its 95% interval; "which equity leads" and "Bitcoin against the
altcoins" are tests of dependent correlations (Williams/Steiger), never a bare ranking.

Long (about 450 lines) because the value, how it is built from the analytics and how it
round-trips through JSON change together: a field added to a reading is built, stored and
read back in one place.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import Any

from bot.core.analytics import Analytics
from bot.core.models import Pair, QualityIssue, QualityKind
from bot.core.regimes import RegimeBands
from bot.core.stats import (
    RANK_VARIANCE,
    dependent_difference,
    fisher_interval,
    two_sided_p,
    volatility_adjusted,
)

__all__ = [
    "Comparison",
    "PairReading",
    "Snapshot",
    "VolReading",
    "build_snapshot",
]

WEEK, MONTH = 5, 21  # sessions


@dataclass(frozen=True, slots=True)
class PairReading:
    """One pair and window on the snapshot's session."""

    crypto: str
    equity: str
    window: int
    corr: float
    prev_corr: float  # the previous non-overlapping window
    change_week: float
    change_month: float
    ewm_corr: float
    regime: str | None
    sessions: float = math.nan  # sessions with both returns the correlation used
    rank_corr: float = math.nan  # Spearman's, over the same sessions
    adjusted: float = math.nan  # Forbes-Rigobon: at the equity's usual volatility
    vol_ratio: float = math.nan  # the equity's volatility against its usual level

    @property
    def pair(self) -> Pair:
        """The pair this reading is about."""
        return Pair(self.crypto, self.equity)

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% interval of ``corr`` over the sessions actually used."""
        return fisher_interval(self.corr, self.sessions)

    @property
    def rank_interval(self) -> tuple[float, float]:
        """The 95% interval of ``rank_corr``."""
        return fisher_interval(self.rank_corr, self.sessions, variance=RANK_VARIANCE)

    @property
    def adjusted_interval(self) -> tuple[float, float]:
        """The 95% interval of ``adjusted``: the interval of ``corr`` through the same correction.

        The correction is increasing in the correlation, so it maps the interval's ends; the
        volatility ratio is taken as known (its own noise would widen the interval a little).
        """
        lower, upper = self.interval
        return volatility_adjusted(lower, self.vol_ratio), volatility_adjusted(
            upper, self.vol_ratio
        )

    @property
    def missing(self) -> int:
        """Sessions of the window without both returns (holes, late data)."""
        if math.isnan(self.sessions):
            return 0
        return max(0, self.window - int(self.sessions))


@dataclass(frozen=True, slots=True)
class VolReading:
    """A leg's realized volatility now, against its own median of the past year."""

    symbol: str
    window: int
    vol: float
    median_year: float

    @property
    def ratio(self) -> float:
        """Volatility as a multiple of its usual level."""
        if math.isnan(self.vol) or math.isnan(self.median_year) or self.median_year <= 0:
            return math.nan
        return self.vol / self.median_year

    @property
    def elevated(self) -> bool:
        """Half again above its usual level: correlations read high in such times."""
        return self.ratio > 1.5


@dataclass(frozen=True, slots=True)
class Comparison:
    """Williams' test of two correlations that share a leg, over the headline window.

    ``shared`` is the common leg (BTC when comparing BTC~PSCT with BTC~QQQ, PSCT when
    comparing BTC~PSCT with ETH~PSCT); ``first`` is the one with the larger correlation.
    """

    shared: str
    first: str
    second: str
    corr_first: float
    corr_second: float
    t: float
    critical: float
    sessions: float = math.nan  # sessions the test used (the fewer of the two readings')

    @property
    def significant(self) -> bool:
        """Whether ``first`` is ahead beyond noise."""
        return not math.isnan(self.t) and abs(self.t) > self.critical

    @property
    def p(self) -> float:
        """The two-sided p-value of the test (Student t, ``sessions - 3`` degrees of freedom)."""
        return two_sided_p(self.t, self.sessions - 3)


@dataclass(frozen=True)
class Snapshot:
    """Everything ``/corr`` needs about the latest session."""

    as_of: date
    headline_window: int
    windows: tuple[int, ...]
    crypto: tuple[str, ...]
    equities: tuple[str, ...]
    readings: tuple[PairReading, ...]
    vols: tuple[VolReading, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    leaders: tuple[Comparison, ...] = ()  # per crypto: the top equity against the runner-up
    versus: tuple[Comparison, ...] = ()  # per equity: the headline crypto against each other
    rivals: tuple[Comparison, ...] = ()  # per crypto: the headline equity against each other
    bands: RegimeBands = field(default_factory=RegimeBands)  # the regime bands in force

    @functools.cached_property
    def _by_key(self) -> dict[tuple[str, str, int], PairReading]:
        return {(r.crypto, r.equity, r.window): r for r in self.readings}

    def reading(self, pair: Pair, window: int) -> PairReading | None:
        """The reading of ``pair`` over ``window``, if computed."""
        return self._by_key.get((pair.crypto, pair.equity, window))

    def vol(self, symbol: str, window: int) -> VolReading | None:
        """The volatility reading of ``symbol`` over ``window``."""
        return next((v for v in self.vols if v.symbol == symbol and v.window == window), None)

    def leader(self, crypto: str) -> Comparison | None:
        """Which equity ``crypto`` correlates with most, tested against the runner-up."""
        return next((c for c in self.leaders if c.shared == crypto), None)

    def rival(self, crypto: str, equity: str) -> Comparison | None:
        """``crypto`` with the headline equity against ``crypto`` with ``equity``, tested."""
        headline = self.equities[0] if self.equities else None
        return next(
            (
                c
                for c in self.rivals
                if c.shared == crypto and {c.first, c.second} == {headline, equity}
            ),
            None,
        )

    def against(self, equity: str, crypto: str) -> Comparison | None:
        """The headline crypto on ``equity`` against ``crypto`` on ``equity``, tested."""
        headline = self.crypto[0] if self.crypto else None
        return next(
            (
                c
                for c in self.versus
                if c.shared == equity and {c.first, c.second} == {headline, crypto}
            ),
            None,
        )

    def to_json(self) -> str:
        """Serialize for the store (NaN becomes null)."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        return json.dumps(_nan_to_none(data), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        """Inverse of :meth:`to_json`; a snapshot of an earlier version reads with gaps."""
        data = _none_to_nan(json.loads(text))
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            headline_window=data["headline_window"],
            windows=tuple(data["windows"]),
            crypto=tuple(data["crypto"]),
            equities=tuple(data["equities"]),
            readings=tuple(_known(PairReading, r) for r in data["readings"]),
            vols=tuple(_known(VolReading, v) for v in data["vols"]),
            labels=data["labels"],
            bands=_bands(data.get("bands")),
            warnings=tuple(data["warnings"]),
            leaders=tuple(_known(Comparison, c) for c in data.get("leaders", [])),
            versus=tuple(_known(Comparison, c) for c in data.get("versus", [])),
            rivals=tuple(_known(Comparison, c) for c in data.get("rivals", [])),
        )


def _bands(values: Any) -> RegimeBands:
    """The regime bands stored with a snapshot; the defaults for an earlier version's."""
    if not isinstance(values, dict):
        return RegimeBands()
    low, mid, high = values["edges"]
    return RegimeBands((low, mid, high), values["hysteresis"])


def _known(kind: Any, values: dict[str, Any]) -> Any:
    """``kind(**values)`` keeping only the fields ``kind`` has (older snapshots lack some)."""
    names = {f.name for f in fields(kind)}
    return kind(**{k: v for k, v in values.items() if k in names})


def build_snapshot(
    analytics: Analytics,
    *,
    headline_window: int,
    bands: RegimeBands,
    regimes: Mapping[Pair, str | None],
    labels: Mapping[str, str],
    issues: Sequence[QualityIssue] = (),
    at: date | None = None,
) -> Snapshot | None:
    """The snapshot at session ``at`` (default: the latest with a headline correlation)."""
    position = analytics.last_position(headline_window, at)
    if position is None:
        return None
    when = analytics.sessions[position]
    now = analytics.row("corr", position)
    used = analytics.row("used", position)
    ranks = analytics.row("rank_corr", position)
    week = analytics.row("corr", position - WEEK)
    month = analytics.row("corr", position - MONTH)
    before = analytics.row("prev_corr", position)
    ewm = analytics.row("ewm_corr", position)
    vol, usual = analytics.row("vol", position), analytics.row("vol_median", position)
    vols = [VolReading(str(key[0]), int(str(key[1])), vol[key], usual[key]) for key in vol]
    ratios = {(v.symbol, v.window): v.ratio for v in vols}
    readings = []
    for pair in analytics.pairs:
        for window in analytics.windows:
            key = (pair.crypto, pair.equity, window)
            level = now.get(key, math.nan)
            regime = regimes.get(pair) if window == headline_window else None
            if regime is None and window == headline_window and not math.isnan(level):
                regime = bands.plain(level)
            ratio = ratios.get((pair.equity, window), math.nan)
            readings.append(
                PairReading(
                    crypto=pair.crypto,
                    equity=pair.equity,
                    window=window,
                    corr=level,
                    prev_corr=before.get(key, math.nan),
                    change_week=level - week.get(key, math.nan),
                    change_month=level - month.get(key, math.nan),
                    ewm_corr=ewm.get((pair.crypto, pair.equity), math.nan),
                    regime=regime,
                    sessions=used.get(key, math.nan),
                    rank_corr=ranks.get(key, math.nan),
                    adjusted=volatility_adjusted(level, ratio),
                    vol_ratio=ratio,
                )
            )
    cross = analytics.row("cross_corr", position)
    crypto = tuple(dict.fromkeys(p.crypto for p in analytics.pairs))
    equities = tuple(dict.fromkeys(p.equity for p in analytics.pairs))
    headline = {(r.crypto, r.equity): r for r in readings if r.window == headline_window}
    leaders = [
        _leader(c, equities, headline, cross, headline_window) for c in crypto if len(equities) > 1
    ]
    test = functools.partial(_compare, headline=headline, cross=cross, window=headline_window)
    versus = [test(e, crypto[0], other, by_crypto=True) for e in equities for other in crypto[1:]]
    rivals = [
        test(c, equities[0], other, by_crypto=False) for c in crypto for other in equities[1:]
    ]
    return Snapshot(
        as_of=when.date(),
        headline_window=headline_window,
        windows=tuple(analytics.windows),
        crypto=crypto,
        equities=equities,
        readings=tuple(readings),
        vols=tuple(vols),
        labels=dict(labels),
        warnings=(
            *(str(issue) for issue in issues if issue.kind.blocks_alerts),
            *_holes_in_window(issues, analytics, position, headline_window),
        ),
        leaders=tuple(c for c in leaders if c is not None),
        versus=tuple(c for c in versus if c is not None),
        rivals=tuple(c for c in rivals if c is not None),
        bands=bands,
    )


def _holes_in_window(
    issues: Sequence[QualityIssue], analytics: Analytics, position: int, window: int
) -> list[str]:
    """Per symbol, the sessions of the headline window without a price, as one warning.

    A hole lowers the ``n`` of every correlation over the window (its interval is computed
    on the sessions actually used), and a reader must see that the numbers rest on fewer
    sessions: late data still being fetched, or a gap given up on.
    """
    first = analytics.sessions[max(0, position - window + 1)].date()
    last = analytics.sessions[position].date()
    lines = []
    for issue in issues:
        if issue.kind is not QualityKind.MISSING:
            continue
        inside = [day for day in issue.sessions if first <= day <= last]
        if inside:
            noun = "session" if len(inside) == 1 else "sessions"
            shown = ", ".join(d.isoformat() for d in inside[:3])
            more = f" and {len(inside) - 3} more" if len(inside) > 3 else ""
            lines.append(
                f"{issue.symbol}: {len(inside)} {noun} of the last {window} without a price "
                f"({shown}{more}): the correlations use fewer sessions"
            )
    return lines


def _cross(cross: Mapping[tuple[object, ...], float], a: str, b: str, window: int) -> float:
    return cross.get((a, b, window), cross.get((b, a, window), math.nan))


def _leader(
    crypto: str,
    equities: Sequence[str],
    headline: Mapping[tuple[str, str], PairReading],
    cross: Mapping[tuple[object, ...], float],
    window: int,
) -> Comparison | None:
    """The equity ``crypto`` correlates with most, against the runner-up."""
    known = [headline[(crypto, e)] for e in equities if not math.isnan(headline[(crypto, e)].corr)]
    if len(known) < 2:
        return None
    first, second = sorted(known, key=lambda r: r.corr, reverse=True)[:2]
    return _compare(
        crypto,
        first.equity,
        second.equity,
        headline=headline,
        cross=cross,
        window=window,
        by_crypto=False,
    )


def _compare(
    shared: str,
    a: str,
    b: str,
    *,
    headline: Mapping[tuple[str, str], PairReading],
    cross: Mapping[tuple[object, ...], float],
    window: int,
    by_crypto: bool,
) -> Comparison | None:
    """Williams' test of corr(shared, a) against corr(shared, b); the larger goes first."""
    key_a, key_b = ((a, shared), (b, shared)) if by_crypto else ((shared, a), (shared, b))
    reading_a, reading_b = headline.get(key_a), headline.get(key_b)
    if reading_a is None or reading_b is None:
        return None
    if math.isnan(reading_a.corr) or math.isnan(reading_b.corr):
        return None
    if reading_b.corr > reading_a.corr:
        a, b, reading_a, reading_b = b, a, reading_b, reading_a
    sessions = min(reading_a.sessions, reading_b.sessions)
    test = dependent_difference(
        reading_a.corr, reading_b.corr, _cross(cross, a, b, window), sessions
    )
    return Comparison(shared, a, b, reading_a.corr, reading_b.corr, test.t, test.critical, sessions)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value


def _none_to_nan(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: (math.nan if v is None and k in _FLOAT_FIELDS else _none_to_nan(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_none_to_nan(v) for v in value]
    return value


_FLOAT_FIELDS = {
    "corr",
    "prev_corr",
    "change_week",
    "change_month",
    "ewm_corr",
    "vol",
    "median_year",
    "sessions",
    "rank_corr",
    "adjusted",
    "vol_ratio",
    "corr_first",
    "corr_second",
    "t",
    "critical",
}
