"""The clock seam: code asks a ``Clock`` for the time so tests can fix it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "utc_now"]

#: A zero-argument callable returning the current instant, tz-aware UTC.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real current instant, tz-aware UTC."""
    return datetime.now(tz=UTC)
