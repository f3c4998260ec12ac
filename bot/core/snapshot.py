"""The latest session at a glance: every pair and window, changes, regimes, the leader.

A snapshot is what ``/corr`` shows and what an alert's context is drawn from. It is a
plain frozen value, serializable to JSON, so chat commands read it from the store instead
of recomputing anything or waiting on an exchange.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from bot.core.analytics import Analytics
from bot.core.models import Pair, QualityIssue
from bot.core.regimes import RegimeBands

__all__ = ["PairReading", "Snapshot", "build_snapshot"]

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

    @property
    def pair(self) -> Pair:
        """The pair this reading is about."""
        return Pair(self.crypto, self.equity)


@dataclass(frozen=True, slots=True)
class VolReading:
    """A leg's realized volatility now, against its own median of the past year."""

    symbol: str
    window: int
    vol: float
    median_year: float

    @property
    def elevated(self) -> bool:
        """Half again above its usual level: correlations read high in such times."""
        return self.vol > 1.5 * self.median_year


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

    @functools.cached_property
    def _by_key(self) -> dict[tuple[str, str, int], PairReading]:
        return {(r.crypto, r.equity, r.window): r for r in self.readings}

    def reading(self, pair: Pair, window: int) -> PairReading | None:
        """The reading of ``pair`` over ``window``, if computed."""
        return self._by_key.get((pair.crypto, pair.equity, window))

    def vol(self, symbol: str, window: int) -> VolReading | None:
        """The volatility reading of ``symbol`` over ``window``."""
        return next((v for v in self.vols if v.symbol == symbol and v.window == window), None)

    def leader(self, crypto: str) -> str | None:
        """The equity ``crypto`` is most correlated with over the headline window."""
        candidates = [
            r
            for r in self.readings
            if r.crypto == crypto and r.window == self.headline_window and not math.isnan(r.corr)
        ]
        return max(candidates, key=lambda r: r.corr).equity if candidates else None

    def to_json(self) -> str:
        """Serialize for the store (NaN becomes null)."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        return json.dumps(_nan_to_none(data), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        """Inverse of :meth:`to_json`."""
        data = _none_to_nan(json.loads(text))
        return cls(
            as_of=date.fromisoformat(data["as_of"]),
            headline_window=data["headline_window"],
            windows=tuple(data["windows"]),
            crypto=tuple(data["crypto"]),
            equities=tuple(data["equities"]),
            readings=tuple(PairReading(**r) for r in data["readings"]),
            vols=tuple(VolReading(**v) for v in data["vols"]),
            labels=data["labels"],
            warnings=tuple(data["warnings"]),
        )


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
    week = analytics.row("corr", position - WEEK)
    month = analytics.row("corr", position - MONTH)
    before = analytics.row("prev_corr", position)
    ewm = analytics.row("ewm_corr", position)
    readings = []
    for pair in analytics.pairs:
        for window in analytics.windows:
            key = (pair.crypto, pair.equity, window)
            level = now.get(key, math.nan)
            regime = regimes.get(pair) if window == headline_window else None
            if regime is None and window == headline_window and not math.isnan(level):
                regime = bands.plain(level)
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
                )
            )
    vol, usual = analytics.row("vol", position), analytics.row("vol_median", position)
    vols = [VolReading(str(key[0]), int(str(key[1])), vol[key], usual[key]) for key in vol]
    return Snapshot(
        as_of=when.date(),
        headline_window=headline_window,
        windows=tuple(analytics.windows),
        crypto=tuple(dict.fromkeys(p.crypto for p in analytics.pairs)),
        equities=tuple(dict.fromkeys(p.equity for p in analytics.pairs)),
        readings=tuple(readings),
        vols=tuple(vols),
        labels=dict(labels),
        warnings=tuple(str(issue) for issue in issues if issue.kind.blocks_alerts),
    )


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
}
