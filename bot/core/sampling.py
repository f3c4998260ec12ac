"""Which instant stands for each NYSE session, per asset.

Equities are priced at the session close. Crypto trades around the clock, so it is sampled
either at the same instant (``equity_close``: synchronous prices, no asynchrony bias,
Burns, Engle & Mezrich 1998) or at the close of the UTC day of the session
(``daily_close``: what daily-only sources offer, a few hours after the equity close).
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

from bot.core.models import Asset

__all__ = ["Sampling", "target_instants"]

Sampling = Literal["equity_close", "daily_close"]


def target_instants(asset: Asset, session_closes: pd.Series, sampling: Sampling) -> pd.Series:
    """Per session date (index), the UTC instant whose price represents ``asset`` there."""
    if asset.is_crypto and sampling == "daily_close":
        days = pd.DatetimeIndex(session_closes.index)
        midnights = (days.normalize() + pd.Timedelta(days=1)).tz_localize("UTC")
        return pd.Series(midnights, index=session_closes.index, name=asset.symbol)
    return session_closes.rename(asset.symbol)
