"""Quality checks on aligned prices: they flag, they never hide.

Findings travel with the panel; later stages refuse to alert on the ones that
``QualityKind.blocks_alerts`` (stale, bad prices, failed fetches, suspect prices). An
outlying return is judged by the session after it: if the price stays (March 2020 was real)
it is an ``OUTLIER``, a warning; if it goes straight back (a x30 tick) the price between is
``SUSPECT``, and so is an outlier on the latest session, which nothing confirms yet.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from bot.core.models import QualityIssue, QualityKind

__all__ = ["check_symbol", "robust_outliers", "split_outliers"]

_OUTLIER_LOOKBACK = 250
_OUTLIER_MIN_PERIODS = 60
_MAD_TO_SIGMA = 1.4826
#: A move is reverted when the next return undoes at least this share of it.
_REVERTED = 0.5


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
    confirmed, suspect = split_outliers(returns, outliers)
    if confirmed.any():
        issues.append(
            _issue(
                symbol,
                QualityKind.OUTLIER,
                f"return beyond {outlier_zscore:g} robust sigmas",
                confirmed,
            )
        )
    if suspect.any():
        issues.append(
            _issue(
                symbol,
                QualityKind.SUSPECT,
                f"return beyond {outlier_zscore:g} robust sigmas, not confirmed (latest, or "
                "reverted the next session)",
                suspect,
            )
        )
    return issues


def split_outliers(returns: pd.Series, outliers: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Outlying returns the next session confirmed, and the sessions of suspect prices.

    An outlier on the last session with a return has nothing to confirm it: suspect. One
    whose next return undoes at least half of it (the price went straight back) was a bad
    tick: both returns that read the price between are suspect, and the reversal is not a
    second outlier. The rest stood: confirmed, a warning only.
    """
    values = returns.to_numpy(dtype="float64")
    flagged = outliers.to_numpy(dtype=bool)
    observed = np.flatnonzero(~np.isnan(values))
    confirmed = np.zeros(len(values), dtype=bool)
    suspect = np.zeros(len(values), dtype=bool)
    following = {int(a): int(b) for a, b in itertools.pairwise(observed)}
    skip = -1
    for t in np.flatnonzero(flagged):
        if t == skip:
            continue
        after = following.get(int(t))
        if after is None:
            suspect[t] = True
        elif abs(values[t] + values[after]) <= (1 - _REVERTED) * abs(values[t]):
            suspect[t] = suspect[after] = True
            skip = after
        else:
            confirmed[t] = True
    return (
        pd.Series(confirmed, index=returns.index),
        pd.Series(suspect, index=returns.index),
    )


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
