"""How the store writes instants: sortable UTC text, read back as the same instant."""

from __future__ import annotations

import pandas as pd

from bot.core.store import format_ts, parse_ts


def test_timestamps_are_utc_text() -> None:
    """Instants are stored as sortable UTC ISO text and read back equal."""
    stamp = pd.Timestamp("2024-07-03 13:00", tz="America/New_York")
    assert format_ts(stamp) == "2024-07-03T17:00:00Z"
    assert parse_ts(format_ts(stamp)) == stamp
