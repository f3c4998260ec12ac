"""The aligned panel: one row per NYSE session, every symbol of the universe, log returns.

Equities are priced at the session close and never forward-filled; crypto is sampled at
the instant chosen for each session (see :mod:`bot.core.sampling`), so the crypto return
on a Monday carries the whole weekend's move. A price that is missing or not positive
stays NaN and its returns are NaN: the analytics must see the hole, not a made-up price.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from bot.core.models import Asset, QualityIssue
from bot.core.quality import check_symbol
from bot.core.sampling import Sampling, target_instants

__all__ = ["Panel", "build_panel"]


@dataclass(frozen=True)
class Panel:
    """Aligned prices and log returns, with the quality findings that concern them."""

    prices: pd.DataFrame  # index: session dates; columns: symbols; NaN where unusable
    returns: pd.DataFrame  # log returns between consecutive sessions (first row dropped)
    issues: tuple[QualityIssue, ...] = field(default=())
    sampling: Mapping[str, Sampling] = field(default_factory=dict)
    #: Per symbol, the latest session whose price should be available by now.
    expected_last: Mapping[str, date | None] = field(default_factory=dict)

    @property
    def as_of(self) -> date | None:
        """The latest session with at least one price."""
        filled = self.prices.dropna(how="all")
        return None if filled.empty else filled.index[-1].date()

    def issues_for(self, symbols: Sequence[str]) -> list[QualityIssue]:
        """Findings about any of ``symbols``."""
        wanted = set(symbols)
        return [issue for issue in self.issues if issue.symbol in wanted]

    def blocking_issues(self, symbols: Sequence[str]) -> list[QualityIssue]:
        """Findings about ``symbols`` that forbid alerting (stale or broken data)."""
        return [i for i in self.issues_for(symbols) if i.kind.blocks_alerts]


def build_panel(
    cached: Mapping[str, pd.Series],
    assets: Sequence[Asset],
    session_closes: pd.Series,
    sampling: Mapping[str, Sampling],
    *,
    now: datetime,
    stale_after: timedelta,
    outlier_zscore: float,
    extra_issues: Sequence[QualityIssue] = (),
) -> Panel:
    """Align cached observations (per symbol, indexed by UTC instant) to the sessions.

    A session's price is expected once its instant plus ``stale_after`` has passed, so a
    crypto sampled at the UTC midnight after the session is not stale before midnight.
    """
    sessions = pd.DatetimeIndex(session_closes.index, name="session")
    prices: dict[str, np.ndarray] = {}
    issues: list[QualityIssue] = list(extra_issues)
    expected: dict[str, date | None] = {}
    cutoff = pd.Timestamp(now).tz_convert("UTC") - stale_after
    for asset in assets:
        instants = pd.DatetimeIndex(
            target_instants(asset, session_closes, sampling.get(asset.symbol, "equity_close"))
        )
        due = sessions[instants <= cutoff]
        expected_last = due[-1].date() if len(due) else None
        expected[asset.symbol] = expected_last
        series = cached.get(asset.symbol, pd.Series(dtype="float64"))
        present = pd.Series(instants.isin(series.index), index=sessions)
        raw = pd.Series(series.reindex(instants).to_numpy(dtype="float64"), index=sessions)
        issues.extend(
            check_symbol(
                asset.symbol,
                raw,
                present,
                expected_last=expected_last,
                outlier_zscore=outlier_zscore,
            )
        )
        prices[asset.symbol] = raw.where(raw > 0).to_numpy()
    frame = pd.DataFrame(prices, index=sessions)
    returns = frame.apply(np.log).diff().iloc[1:]
    return Panel(
        prices=frame,
        returns=returns,
        issues=tuple(issues),
        sampling=dict(sampling),
        expected_last=expected,
    )
