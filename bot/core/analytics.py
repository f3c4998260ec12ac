"""Rolling correlation analytics: pure, vectorized, no I/O.

For every (crypto, equity) pair and every window the whole history is computed in one
pass with rolling moments (O(sessions), not O(sessions x window)). Alongside each
correlation come the Fisher z, the correlation of the previous non-overlapping window (what
a spike is measured against), an exponentially weighted correlation, and each leg's realized
volatility: correlation rises mechanically when volatility rises (Forbes and Rigobon 2002),
so a reader must see both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

import numpy as np
import pandas as pd

from bot.core.models import Pair
from bot.core.stats import rolling_rank_corr

__all__ = [
    "ANNUALIZATION",
    "Analytics",
    "compute_analytics",
    "fisher_z",
    "spike_statistic",
]

#: Sessions per year, for annualizing realized volatility of session returns.
ANNUALIZATION = 252
_CLIP = 1 - 1e-12  # keeps arctanh finite for a perfect correlation


def fisher_z(corr: pd.Series) -> pd.Series:
    """Fisher's variance-stabilizing transform, ``arctanh(r)``, clipped to stay finite."""
    return pd.Series(np.arctanh(corr.clip(-_CLIP, _CLIP).to_numpy()), index=corr.index)


def spike_statistic(corr_now: pd.Series, corr_before: pd.Series, window: int) -> pd.Series:
    """Standardized difference of two independent windows' Fisher z (a z-score).

    Each Fisher z has standard error ``1/sqrt(n-3)``, so the difference of two
    non-overlapping windows of ``n`` sessions has ``sqrt(2/(n-3))``.
    """
    scale = math.sqrt(2.0 / (window - 3))
    return (fisher_z(corr_now) - fisher_z(corr_before)) / scale


@dataclass(frozen=True)
class Analytics:
    """Everything computed over the history; frames share the session index.

    Column keys are ``(crypto, equity, window)`` for per-pair frames and
    ``(symbol, window)`` for volatility.
    """

    corr: pd.DataFrame  # rolling Pearson correlation
    used: pd.DataFrame  # how many sessions with both returns each correlation used
    rank_corr: pd.DataFrame  # rolling Spearman correlation (fat tails cannot dominate it)
    cross_corr: pd.DataFrame  # between two equities or two cryptos: (a, b, window)
    prev_corr: pd.DataFrame  # the same, over the previous non-overlapping window
    ewm_corr: pd.DataFrame  # exponentially weighted, columns (crypto, equity)
    vol: pd.DataFrame  # annualized realized volatility, columns (symbol, window)
    vol_median: pd.DataFrame  # the same, its median over the trailing year: "usual" level
    windows: tuple[int, ...]
    pairs: tuple[Pair, ...]
    # numpy views of the frames, built on first use: snapshots read single rows many times
    _arrays: dict[str, tuple[np.ndarray, list[tuple[object, ...]]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def _array(self, name: str) -> tuple[np.ndarray, list[tuple[object, ...]]]:
        if name not in self._arrays:
            frame: pd.DataFrame = getattr(self, name)
            keys: list[tuple[object, ...]] = [tuple(key) for key in frame.columns.to_list()]
            values: np.ndarray = frame.to_numpy(dtype="float64")
            self._arrays[name] = (values, keys)
        return self._arrays[name]

    def row(self, name: str, position: int) -> dict[tuple[object, ...], float]:
        """One session of frame ``name`` as {column key: value}; empty outside the history."""
        values, keys = self._array(name)
        if position < 0 or position >= len(values):
            return {}
        return dict(zip(keys, values[position].tolist(), strict=True))

    def last_position(self, window: int, at: date | None = None) -> int | None:
        """Position of the latest session (at or before ``at``) with any ``window`` correlation."""
        values, keys = self._array("corr")
        columns = [i for i, key in enumerate(keys) if key[2] == window]
        stop = len(values)
        if at is not None:
            stop = int(self.corr.index.searchsorted(pd.Timestamp(at), side="right"))
        valid = np.flatnonzero(np.isfinite(values[:stop, columns]).any(axis=1))
        return int(valid[-1]) if len(valid) else None

    @property
    def sessions(self) -> pd.DatetimeIndex:
        """The session index shared by every frame."""
        return pd.DatetimeIndex(self.corr.index)

    def series(self, pair: Pair, window: int) -> pd.Series:
        """The rolling correlation of one pair and window."""
        return self.corr[(pair.crypto, pair.equity, window)]

    def previous(self, pair: Pair, window: int) -> pd.Series:
        """The correlation of the window before, aligned to the same sessions."""
        return self.prev_corr[(pair.crypto, pair.equity, window)]

    def volatility(self, symbol: str, window: int) -> pd.Series:
        """Annualized realized volatility of ``symbol`` over ``window`` sessions."""
        return self.vol[(symbol, window)]


def compute_analytics(
    returns: pd.DataFrame,
    crypto: Sequence[str],
    equities: Sequence[str],
    windows: Sequence[int],
    *,
    halflife: float,
    min_coverage: float = 0.8,
) -> Analytics:
    """Every pair and window over the whole history in one vectorized pass.

    A window needs at least ``min_coverage`` of its sessions with both returns present,
    so one missing sample does not blank a month of correlations, yet a mostly empty
    window never yields a number.
    """
    pairs = tuple(Pair(c, e) for c in crypto for e in equities)
    corr: dict[tuple[str, str, int], pd.Series] = {}
    used: dict[tuple[str, str, int], pd.Series] = {}
    ranks: dict[tuple[str, str, int], pd.Series] = {}
    prev: dict[tuple[str, str, int], pd.Series] = {}
    cross: dict[tuple[str, str, int], pd.Series] = {}
    for window in windows:
        min_periods = _needed(window, min_coverage)
        for pair in pairs:
            key = (pair.crypto, pair.equity, window)
            x, y = returns[pair.crypto], returns[pair.equity]
            corr[key], used[key] = _rolling(x, y, window, min_periods)
            ranks[key] = rolling_rank_corr(x, y, window, min_periods).where(corr[key].notna())
            prev[key] = corr[key].shift(window)
        for group in (equities, crypto):
            for index, a in enumerate(group):
                for b in group[index + 1 :]:
                    series, _ = _rolling(returns[a], returns[b], window, min_periods)
                    cross[(a, b, window)] = series
    ewm = {
        (pair.crypto, pair.equity): returns[pair.crypto]
        .ewm(halflife=halflife, min_periods=max(10, int(halflife)))
        .corr(returns[pair.equity])
        .clip(-1.0, 1.0)
        for pair in pairs
    }
    vol = {
        (symbol, window): (
            returns[symbol]
            .rolling(window, min_periods=max(3, math.ceil(min_coverage * window)))
            .std()
            * math.sqrt(ANNUALIZATION)
        ).mask(_before_full_window(returns[symbol].notna().to_numpy(), window))
        for symbol in [*crypto, *equities]
        for window in windows
    }
    vol_frame = _frame(vol, returns.index)
    return Analytics(
        corr=_frame(corr, returns.index),
        used=_frame(used, returns.index),
        rank_corr=_frame(ranks, returns.index),
        cross_corr=_frame(cross, returns.index),
        prev_corr=_frame(prev, returns.index),
        ewm_corr=_frame(ewm, returns.index),
        vol=vol_frame,
        vol_median=vol_frame.rolling(ANNUALIZATION, min_periods=1).median(),
        windows=tuple(windows),
        pairs=pairs,
    )


def _rolling(
    x: pd.Series, y: pd.Series, window: int, min_periods: int
) -> tuple[pd.Series, pd.Series]:
    """Pearson correlation over each window, and the sessions with both returns it used.

    Rounding in rolling moments can push |r| a hair above one; it is not a signal. The first
    ``window - 1`` sessions *of the pair's own history* (from its first session with both
    returns, not the panel's start: ETH begins in 2017) have no full window yet: no number,
    not a partial one, so coverage is measured over sessions the pair could have had. A
    session without both returns has no correlation "as of" it, even when the window still
    has enough coverage: the numbers must not outlive the data.
    """
    present = (x.notna() & y.notna()).to_numpy()
    count = pd.Series(present.astype("float64"), index=x.index).rolling(window, min_periods=1).sum()
    series = x.rolling(window, min_periods=min_periods).corr(y)
    series = series.clip(-1.0, 1.0).mask(_before_full_window(present, window))
    return series, count.where(series.notna())


def _needed(window: int, min_coverage: float) -> int:
    """Sessions a window needs; rounded first so 0.56 * 25 = 14.000000000000002 means 14."""
    return max(3, math.ceil(round(min_coverage * window, 9)))


def _before_full_window(present: np.ndarray, window: int) -> np.ndarray:
    """True where no number may stand: a missing session, or one before the first full window.

    The first full window ends ``window - 1`` sessions after the series' own first present
    session (not the panel's first row), so a series that starts late is not measured on a
    partial window that min_coverage would have refused anywhere else.
    """
    first = np.flatnonzero(present)
    start = int(first[0]) if len(first) else len(present)
    head: np.ndarray = np.arange(len(present)) < start + window - 1
    return np.asarray(head | ~present, dtype=bool)


_Key = TypeVar("_Key", bound=tuple[object, ...])


def _frame(columns: Mapping[_Key, pd.Series], index: pd.Index, levels: int = 3) -> pd.DataFrame:
    frame = pd.DataFrame(columns, index=index)
    keys = list(columns)
    frame.columns = (
        pd.MultiIndex.from_tuples(keys)
        if keys
        else pd.MultiIndex.from_arrays([[] for _ in range(levels)])
    )
    return frame
