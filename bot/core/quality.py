"""Quality checks on aligned prices: they flag, they never hide.

Findings travel with the panel; later stages refuse to alert on the ones that
``QualityKind.blocks_alerts`` (stale, bad prices, failed fetches). Outliers are warnings:
March 2020 was real.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from bot.core.models import QualityIssue, QualityKind

__all__ = ["check_symbol", "robust_outliers"]

_OUTLIER_LOOKBACK = 250
_OUTLIER_MIN_PERIODS = 60
_MAD_TO_SIGMA = 1.4826


def check_symbol(
    symbol: str,
    raw: pd.Series,
    present: pd.Series,
    *,
    expected_last: date | None,
    outlier_zscore: float,
) -> list[QualityIssue]:
    """All findings for one symbol.

    ``raw`` holds the cached close per session (NaN where absent or not a number) and
    ``present`` says whether the store had a row at all, which separates a missing price
    (gap) from a broken one (a row whose close is not a positive number).
    """
    issues: list[QualityIssue] = []
    observed = present[present]
    if observed.empty:
        issues.append(QualityIssue(symbol, QualityKind.STALE, "no prices at all"))
        return issues
    # Interior holes are gaps; a trailing run of absent sessions is staleness, below.
    in_life = (raw.index >= observed.index[0]) & (raw.index <= observed.index[-1])

    bad = present & ~(raw > 0)
    if bad.any():
        issues.append(
            _issue(symbol, QualityKind.BAD_PRICE, "close is zero, negative or not a number", bad)
        )

    gaps = ~present & in_life
    if gaps.any():
        issues.append(_issue(symbol, QualityKind.MISSING, "no price for the session", gaps))

    if expected_last is not None:
        good = raw[raw > 0]
        last_good = good.index[-1].date() if not good.empty else None
        if last_good is None or last_good < expected_last:
            since = "never" if last_good is None else f"last price {last_good.isoformat()}"
            issues.append(
                QualityIssue(
                    symbol,
                    QualityKind.STALE,
                    f"no price for {expected_last.isoformat()} yet ({since})",
                    (expected_last,),
                )
            )

    returns = np.log(raw.where(raw > 0)).diff()
    outliers = robust_outliers(returns, outlier_zscore)
    if outliers.any():
        issues.append(
            _issue(
                symbol,
                QualityKind.OUTLIER,
                f"return beyond {outlier_zscore:g} robust sigmas",
                outliers,
            )
        )
    return issues


def robust_outliers(returns: pd.Series, zscore: float) -> pd.Series:
    """Returns further than ``zscore`` robust sigmas (trailing median/MAD) from the median.

    Trailing statistics exclude the day being judged, so a crash cannot hide itself by
    inflating its own yardstick.
    """
    past = returns.shift(1).rolling(_OUTLIER_LOOKBACK, min_periods=_OUTLIER_MIN_PERIODS)
    median = past.median()
    mad = (
        (returns - median)
        .abs()
        .shift(1)
        .rolling(_OUTLIER_LOOKBACK, min_periods=_OUTLIER_MIN_PERIODS)
        .median()
    )
    scale = (_MAD_TO_SIGMA * mad).where(lambda s: s > 0)
    z = (returns - median).abs() / scale
    return (z > zscore).fillna(value=False).astype(bool)


def _issue(symbol: str, kind: QualityKind, detail: str, mask: pd.Series) -> QualityIssue:
    sessions: Sequence[date] = tuple(ts.date() for ts in mask.index[mask.to_numpy(dtype=bool)])
    shown = ", ".join(d.isoformat() for d in sessions[:3])
    more = f" and {len(sessions) - 3} more" if len(sessions) > 3 else ""
    return QualityIssue(symbol, kind, f"{detail}: {shown}{more}", tuple(sessions))
