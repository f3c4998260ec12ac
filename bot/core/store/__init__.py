"""The embedded SQLite store: one file holds everything corrbot must remember.

One module per owner, and each table's statements in its owner's module only:

==================  ====================================================================
``database``        the file: created owner-only (it holds chat ids), checked, migrated
                    (WAL), transactions; full disks and locks named as such
``migrations``      every table's definition, as forward-only migrations
``prices``          ``prices``, ``price_gaps``, ``fetch_log``: the price cache
``alerts``          ``alerts``, ``engine_state``: what was said and where each pair stands
``outbox``          ``outbound``, ``deliveries``: who receives what, and the delivery states
``chats``           ``chats``: subscribers and their settings
``meta``            ``meta``: snapshot, last runs, heartbeat, 429 pause, sender lease
``timestamps``      how instants are written (UTC text) and read back (aware datetimes)
==================  ====================================================================

:class:`Store` opens the file and hands out one object per owner. A run of the daily job
writes to four owners at once; :meth:`Store.record_check` does it in one transaction, each
owner's statements still in its own module.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd

from bot.core.models import Alert, Pair
from bot.core.store.alerts import (
    Alerts,
    StoredAlert,
    clear_reopenings,
    insert_alert,
    save_states,
)
from bot.core.store.chats import Subscribers
from bot.core.store.database import Database
from bot.core.store.meta import Meta, put_snapshot
from bot.core.store.outbox import Outbox, queue_alert, queue_digest
from bot.core.store.prices import Prices
from bot.core.store.timestamps import format_ts, parse_ts

__all__ = ["Store", "StoredAlert", "format_ts", "parse_ts"]


class Store:
    """The store at one path, opened and migrated; close it (or use ``with``) when done."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.path = database.path
        self.prices = Prices(database)
        self.alerts = Alerts(database)
        self.outbox = Outbox(database)
        self.subscribers = Subscribers(database)
        self.meta = Meta(database)

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating it owner-only if needed) and migrate the store at ``path``."""
        return cls(Database.open(path))

    def close(self) -> None:
        """Close the file; safe to call twice."""
        self.database.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write-locking transaction on the file (see :meth:`Database.transaction`)."""
        with self.database.transaction() as conn:
            yield conn

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """A read-only statement (see :meth:`Database.query`)."""
        return self.database.query(sql, params)

    def record_check(
        self,
        alerts: Sequence[tuple[Alert, str]],
        *,
        window: int,
        states: Mapping[Pair, str],
        snapshot: str | None,
        now: datetime,
        digest: tuple[str, str] | None = None,
        reopened: Mapping[Pair, pd.Timestamp] | None = None,
    ) -> list[StoredAlert]:
        """Record a run's alerts, their deliveries, engine states and snapshot atomically.

        Each alert comes with its message payload (JSON). An alert whose key exists already
        is not recorded again (re-running a session creates nothing); a new one gets one
        delivery row per eligible chat in the same transaction, so no alert is ever recorded
        without its deliveries. ``digest`` (key, payload) is the day's summary for chats
        that asked for one, also recorded once. ``reopened`` are the re-openings
        (:meth:`Alerts.reopenings`) this run's states took into account: they are cleared,
        unless a price changed again meanwhile. Returns the new alerts.
        """
        stamp = format_ts(now)
        recorded: list[StoredAlert] = []
        with self.database.transaction() as conn:
            for alert, payload in alerts:
                alert_id = insert_alert(conn, alert, stamp)
                if alert_id is not None:
                    recorded.append(StoredAlert(alert_id, alert))
                    queue_alert(conn, alert, alert_id, payload, stamp)
            save_states(conn, window, states, stamp)
            clear_reopenings(conn, window, reopened or {})
            if digest is not None:
                queue_digest(conn, *digest, stamp)
            if snapshot is not None:
                put_snapshot(conn, snapshot)
        return recorded
