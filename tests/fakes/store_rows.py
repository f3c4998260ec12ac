"""Rows the store tests start from: closes as a series, stored prices, saved engine states."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from bot.core.models import Pair
from bot.core.store import Store

__all__ = ["priced", "series", "with_states"]

#: When the rows below were written; the tests that use them never depend on it.
WRITTEN_AT = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)


def series(*pairs: tuple[str, float]) -> pd.Series:
    """Closes indexed by UTC instant, from ``(instant text, close)`` pairs."""
    index = pd.DatetimeIndex([pd.Timestamp(ts, tz="UTC") for ts, _ in pairs])
    return pd.Series([value for _, value in pairs], index=index, dtype="float64")


def priced(store: Store) -> None:
    """PSCT priced on 2024-12-02 (10.0) and 2024-12-03 (11.0), the latest."""
    store.prices.upsert(
        "PSCT",
        series(("2024-12-02T21:00", 10.0), ("2024-12-03T21:00", 11.0)),
        source="t",
        fetched_at=WRITTEN_AT,
    )


def with_states(store: Store, *pairs: Pair) -> None:
    """An engine state saved for each of ``pairs`` over the 30-session window."""
    store.record_check(
        [],
        window=30,
        states=dict.fromkeys(pairs, '{"last_session": "2024-12-03"}'),
        snapshot=None,
        now=WRITTEN_AT,
    )
