"""How the store writes instants: ISO-8601 UTC text with a ``Z`` (``2024-11-29T18:00:00Z``).

Text sorts in time order, compares in SQL (``next_attempt_at <= ?``) and reads well in
``sqlite3``. Every instant enters and leaves the store through these two functions, so no
caller parses the text itself: a value read back is always an aware UTC datetime.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

__all__ = ["format_ts", "parse_ts"]


def format_ts(value: datetime | pd.Timestamp) -> str:
    """UTC ISO-8601 text with a ``Z``, to the second; naive values are taken to be UTC."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str) -> pd.Timestamp:
    """Inverse of :func:`format_ts`: an aware UTC timestamp (a ``datetime`` too)."""
    return pd.Timestamp(text).tz_convert("UTC")
