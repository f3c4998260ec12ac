"""The statistics behind every number a subscriber reads: intervals, differences, adjustments.

Pure functions on floats or numpy arrays, no I/O:

* :func:`fisher_interval` - the 95% interval of a correlation over ``n`` sessions,
  ``tanh(atanh(r) +- 1.96 / sqrt(n - 3))``, with ``n`` the sessions actually used. A rank
  correlation's standard error is ``sqrt(1.06 / (n - 3))`` (Fieller, Hartley and Pearson
  1957), a lead-adjusted one's twice the variance of a plain one (:func:`lead_adjusted`).
* :func:`dependent_difference` - whether two correlations that share a leg (BTC~PSCT
  against BTC~QQQ) differ, by Williams' test as given by Steiger (1980, eq. 14); which one
  is larger is not evidence of anything on its own.
* :func:`volatility_adjusted` - the Forbes and Rigobon (2002) correction: correlation rises
  mechanically when the market it is measured against turns volatile.
* :func:`rolling_rank_corr` - Spearman's correlation over rolling windows, which fat tails
  cannot dominate the way they dominate Pearson's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = [
    "CONFIDENCE",
    "RANK_VARIANCE",
    "Difference",
    "dependent_difference",
    "fisher_interval",
    "fisher_intervals",
    "lead_adjusted",
    "rolling_rank_corr",
    "student_t_quantile",
    "two_sided_p",
    "volatility_adjusted",
]

#: Every interval shown is a 95% interval.
CONFIDENCE = 0.95
_Z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
#: Variance inflation of Fisher's z for Spearman's rho (Fieller, Hartley and Pearson 1957).
RANK_VARIANCE = 1.06
_CLIP = 1 - 1e-12


def fisher_interval(corr: float, sessions: float, *, variance: float = 1.0) -> tuple[float, float]:
    """The 95% interval of ``corr`` estimated on ``sessions`` pairs of returns.

    ``variance`` scales Fisher's ``1 / (n - 3)``: 1 for Pearson, :data:`RANK_VARIANCE` for
    Spearman, 2 for a lead-adjusted correlation (the sum of two). No interval (NaN) below
    four sessions or for an unknown correlation.
    """
    if math.isnan(corr) or math.isnan(sessions) or sessions < 4:
        return math.nan, math.nan
    centre = math.atanh(max(-_CLIP, min(_CLIP, corr)))
    half = _Z * math.sqrt(variance / (sessions - 3))
    return math.tanh(centre - half), math.tanh(centre + half)


def fisher_intervals(
    corr: np.ndarray, sessions: np.ndarray, *, variance: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fisher_interval` over arrays: NaN where there is no interval."""
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.arctanh(np.clip(corr, -_CLIP, _CLIP))
        half = _Z * np.sqrt(variance / (sessions - 3))
        half = np.where(sessions >= 4, half, np.nan)
    return np.tanh(centre - half), np.tanh(centre + half)


def student_t_quantile(probability: float, df: float) -> float:
    """Student's t quantile by the Cornish-Fisher expansion (to 1e-3 from 4 degrees of freedom).

    The expansion to ``df**-4`` (Abramowitz and Stegun 26.7.5); enough for deciding
    significance at 95% without a dependency on SciPy.
    """
    z = NormalDist().inv_cdf(probability)
    z3, z5, z7, z9 = z**3, z**5, z**7, z**9
    return (
        z
        + (z3 + z) / (4 * df)
        + (5 * z5 + 16 * z3 + 3 * z) / (96 * df**2)
        + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df**3)
        + (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * df**4)
    )


@dataclass(frozen=True, slots=True)
class Difference:
    """Williams' test of two correlations sharing a leg: ``r_a - r_b`` and its t statistic."""

    difference: float
    t: float
    critical: float  # |t| beyond this is significant at 95% (two-sided)

    @property
    def significant(self) -> bool:
        """Whether the two correlations differ beyond noise."""
        return not math.isnan(self.t) and abs(self.t) > self.critical


def dependent_difference(r_a: float, r_b: float, r_ab: float, sessions: float) -> Difference:
    """Test ``r_a = corr(X, A)`` against ``r_b = corr(X, B)`` given ``r_ab = corr(A, B)``.

    Williams' T2 (Steiger 1980, eq. 14), Student t with ``n - 3`` degrees of freedom; the
    closer A and B move together, the smaller a difference that is already significant.
    """
    nan = Difference(math.nan, math.nan, math.nan)
    values = (r_a, r_b, r_ab, sessions)
    if any(math.isnan(v) for v in values) or sessions < 6:
        return nan
    n = sessions
    determinant = 1 - r_a**2 - r_b**2 - r_ab**2 + 2 * r_a * r_b * r_ab
    mean = (r_a + r_b) / 2
    denominator = 2 * (n - 1) / (n - 3) * determinant + mean**2 * (1 - r_ab) ** 3
    if denominator <= 0:
        return nan
    t = (r_a - r_b) * math.sqrt((n - 1) * (1 + r_ab) / denominator)
    return Difference(r_a - r_b, t, student_t_quantile(0.5 + CONFIDENCE / 2, n - 3))


def volatility_adjusted(corr: float, vol_ratio: float) -> float:
    """Forbes and Rigobon's correction for a market ``vol_ratio`` times as volatile as usual.

    ``rho* = rho / sqrt(1 + delta (1 - rho^2))`` with ``delta = vol_ratio^2 - 1``, the
    relative rise in variance: what the correlation would read at the usual volatility.
    """
    if math.isnan(corr) or math.isnan(vol_ratio) or vol_ratio <= 0:
        return math.nan
    delta = vol_ratio**2 - 1
    return corr / math.sqrt(1 + delta * (1 - corr**2))


def lead_adjusted(crypto: pd.Series, equity: pd.Series, window: int, min_periods: int) -> pd.Series:
    """Rolling correlation that counts news the crypto close takes in before the equities do.

    A crypto sampled at the UTC midnight after the session (``daily_close``) already holds the
    3 to 7 hours after the NYSE close, which the equity returns only show the next session;
    same-session correlation then understates the link (Burns, Engle and Mezrich 1998). The
    estimate adds the correlation of the crypto return with the *next* equity return
    (Dimson 1979): ``corr(c_t, e_t) + corr(c_t-1, e_t)`` over the window ending at session
    ``t``. It is not clipped to [-1, 1]: a value above one is noise, and its interval (twice
    the variance of a plain correlation) says so.
    """
    same = crypto.rolling(window, min_periods=min_periods).corr(equity)
    lead = crypto.shift(1).rolling(window, min_periods=min_periods).corr(equity)
    return same + lead


def rolling_rank_corr(x: pd.Series, y: pd.Series, window: int, min_periods: int) -> pd.Series:
    """Spearman's correlation over each window of ``window`` sessions with both returns.

    Windows without missing returns or ties are ranked all at once; the others (a hole, a
    day without a price change) one by one, with average ranks for ties.
    """
    values = np.column_stack([x.to_numpy(dtype="float64"), y.to_numpy(dtype="float64")])
    out = np.full(len(values), np.nan)
    if len(values) < window:
        return pd.Series(out, index=x.index)
    windows = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)  # (T-w+1, 2, w)
    ordered = np.sort(windows, axis=2)
    simple = ~np.isnan(windows).any(axis=(1, 2)) & (np.diff(ordered, axis=2) != 0).all(axis=(1, 2))
    if simple.any():
        ranks = windows[simple].argsort(axis=2).argsort(axis=2).astype(np.float64)
        d2 = np.square(ranks[:, 0] - ranks[:, 1]).sum(axis=1)
        out[np.flatnonzero(simple) + window - 1] = 1 - 6 * d2 / (window * (window**2 - 1))
    for offset in np.flatnonzero(~simple):
        block = windows[offset]
        both = ~np.isnan(block).any(axis=0)
        if both.sum() < min_periods:
            continue
        a, b = _ranks(block[0, both]), _ranks(block[1, both])
        a, b = a - a.mean(), b - b.mean()
        scale = math.sqrt(float((a * a).sum() * (b * b).sum()))
        out[offset + window - 1] = float((a * b).sum()) / scale if scale > 0 else math.nan
    return pd.Series(out, index=x.index)


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their positions)."""
    order = values.argsort(kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    if len(unique) < len(values):
        sums = np.bincount(inverse, weights=ranks)
        ranks = (sums / counts)[inverse]
    return ranks


def two_sided_p(t: float, df: float) -> float:
    """``P(|T| >= |t|)`` for Student's t with ``df`` degrees of freedom (rounded to whole).

    Exact for whole degrees of freedom (Abramowitz and Stegun 26.7.3 and 26.7.4), so a
    p-value shown beside a verdict agrees with it; NaN without a statistic.
    """
    if math.isnan(t) or math.isnan(df) or df < 1:
        return math.nan
    nu = round(df)
    theta = math.atan(abs(t) / math.sqrt(nu))
    cos2 = math.cos(theta) ** 2
    if nu % 2:
        term = total = math.cos(theta)
        for power in range(3, nu - 1, 2):
            term *= cos2 * (power - 1) / power
            total += term
        inside = 2 / math.pi * (theta + math.sin(theta) * total) if nu > 1 else 2 * theta / math.pi
    else:
        term = total = 1.0
        for power in range(2, nu - 1, 2):
            term *= cos2 * (power - 1) / power
            total += term
        inside = math.sin(theta) * total
    return min(1.0, max(0.0, 1.0 - inside))
