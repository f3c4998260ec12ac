"""The project's own exception tree.

Third-party errors (ccxt, yfinance, sqlite3, pydantic) are translated into these at the
boundary, so callers decide what to do from the type alone::

    CorrbotError
    ├── ConfigError              bad configuration: the message names the key and what is accepted
    ├── DataError                market data could not be had
    │   ├── TemporaryDataError   retry later (network, rate limit, exchange down, not published yet)
    │   └── PermanentDataError   retrying will not help (unknown symbol, bad exchange id, bad file)
    └── StoreError               the SQLite store cannot be opened, migrated or written
        └── DiskFullError        ...because its disk is full: the file is fine, free space

Messages are written for the person reading them: what failed, where, and what to do.
They never contain secrets.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorrbotError",
    "DataError",
    "DiskFullError",
    "PermanentDataError",
    "StoreError",
    "TemporaryDataError",
]


class CorrbotError(Exception):
    """Base of every error corrbot raises on purpose."""


class ConfigError(CorrbotError):
    """The configuration is invalid; the message names the key path and the accepted values."""


class DataError(CorrbotError):
    """Market data could not be obtained."""


class TemporaryDataError(DataError):
    """A transient failure: the same request may succeed later, so the job retries."""


class PermanentDataError(DataError):
    """A failure that retrying cannot fix: the configuration or the input must change."""


class StoreError(CorrbotError):
    """The store could not be opened, migrated or written."""


class DiskFullError(StoreError):
    """The store's disk is full: the file is intact, so the fix is space, never a new store.

    Kept apart from other store errors because the advice differs: moving a damaged store
    aside is right, moving a healthy one aside on a full disk discards every subscriber.
    """
