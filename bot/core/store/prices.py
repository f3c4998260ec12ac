"""The price cache: closes per symbol and instant, the instants a source lacks, fetch outcomes.

Owns the ``prices``, ``price_gaps`` and ``fetch_log`` tables. A refresh asks the sources
only for what is not here yet (or may have been revised), so a restart costs nothing and a
source that is down costs only the newest sessions. A close that revises a stored one, or
fills a hole late, re-opens the engine state of the pairs it belongs to in the same
transaction (:func:`bot.core.store.alerts.reopen_pairs_of`): what was evaluated on other
prices is evaluated again.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from bot.core.store.alerts import reopen_pairs_of
from bot.core.store.database import Database
from bot.core.store.timestamps import format_ts, parse_ts

__all__ = ["FetchRecord", "Prices"]


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """The outcome of the most recent refresh of one symbol."""

    symbol: str
    source: str
    attempted_at: pd.Timestamp
    succeeded_at: pd.Timestamp | None
    error: str | None


class Prices:
    """Reads and writes ``prices``, ``price_gaps`` and ``fetch_log``."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def upsert(
        self,
        symbol: str,
        closes: pd.Series,
        *,
        source: str,
        fetched_at: datetime,
        reopen_from: datetime | None = None,
    ) -> int:
        """Insert or replace observations (revised closes overwrite); returns rows written.

        A close that changes a stored one, or that fills a hole older than the latest stored
        observation (late data), re-opens the engine state of every pair with ``symbol`` from
        that instant, in the same transaction: the sessions it touches were evaluated on other
        prices and must be evaluated again. Only instants from ``reopen_from`` on count (the
        refresh passes its retry horizon: history fetched further back when the kept window
        grows is no revision). Instants written stop being known gaps.
        """
        fetched = format_ts(fetched_at)
        rows = [
            (
                symbol,
                format_ts(ts),
                None if not np.isfinite(close) else float(close),
                source,
                fetched,
            )
            for ts, close in zip(closes.index, closes.to_numpy(dtype="float64"), strict=True)
        ]
        with self._db.transaction() as conn:
            since = None if reopen_from is None else format_ts(reopen_from)
            reopen = _first_changed(
                conn, symbol, [r for r in rows if since is None or r[1] >= since]
            )
            if reopen is not None:
                reopen_pairs_of(conn, symbol, reopen)
            conn.executemany(
                "DELETE FROM price_gaps WHERE symbol = ? AND ts = ?", [r[:2] for r in rows]
            )
            conn.executemany(
                "INSERT INTO prices (symbol, ts, close, source, fetched_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (symbol, ts) DO UPDATE SET "
                "close = excluded.close, source = excluded.source, "
                "fetched_at = excluded.fetched_at",
                rows,
            )
        return len(rows)

    def load(self, symbol: str, *, since: datetime | None = None) -> pd.Series:
        """Cached closes of ``symbol`` indexed by UTC instant (NaN where none was given)."""
        sql = "SELECT ts, close FROM prices WHERE symbol = ?"
        params: list[object] = [symbol]
        if since is not None:
            sql += " AND ts >= ?"
            params.append(format_ts(since))
        rows = self._db.query(sql + " ORDER BY ts", params)
        # Nanoseconds, like every other index here: mixed units make each join convert.
        instants = pd.to_datetime([str(r[0]) for r in rows], utc=True).as_unit("ns")
        index = pd.DatetimeIndex(instants, name="ts")
        values = np.array([np.nan if r[1] is None else r[1] for r in rows], dtype="float64")
        return pd.Series(values, index=index, name=symbol)

    def record_gaps(
        self, symbol: str, instants: Iterable[pd.Timestamp], *, checked_at: datetime
    ) -> None:
        """Remember instants the source did not have, so they are not requested again."""
        checked = format_ts(checked_at)
        rows = [(symbol, format_ts(ts), checked) for ts in instants]
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT INTO price_gaps (symbol, ts, checked_at) VALUES (?, ?, ?) "
                "ON CONFLICT (symbol, ts) DO UPDATE SET checked_at = excluded.checked_at",
                rows,
            )

    def known_gaps(self, symbol: str) -> pd.DatetimeIndex:
        """Instants already asked for and known to be absent at the source."""
        rows = self._db.query("SELECT ts FROM price_gaps WHERE symbol = ? ORDER BY ts", [symbol])
        return pd.DatetimeIndex(pd.to_datetime([str(r[0]) for r in rows], utc=True).as_unit("ns"))

    def prune_before(self, symbol: str, cutoff: datetime) -> int:
        """Forget cached prices and gaps older than ``cutoff``; returns prices removed."""
        stamp = format_ts(cutoff)
        with self._db.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM prices WHERE symbol = ? AND ts < ?", (symbol, stamp)
            ).rowcount
            conn.execute("DELETE FROM price_gaps WHERE symbol = ? AND ts < ?", (symbol, stamp))
        return int(removed)

    def sources(self, symbol: str) -> list[str]:
        """Distinct sources that contributed cached closes for ``symbol``, most used first."""
        rows = self._db.query(
            "SELECT source FROM prices WHERE symbol = ? GROUP BY source ORDER BY COUNT(*) DESC",
            [symbol],
        )
        return [str(r[0]) for r in rows]

    def record_fetch(
        self, symbol: str, *, source: str, attempted_at: datetime, error: str | None
    ) -> None:
        """Remember the outcome of a refresh; a failure keeps the last success time."""
        attempted = format_ts(attempted_at)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO fetch_log (symbol, source, attempted_at, succeeded_at, error) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (symbol) DO UPDATE SET "
                "source = excluded.source, attempted_at = excluded.attempted_at, "
                "succeeded_at = COALESCE(excluded.succeeded_at, fetch_log.succeeded_at), "
                "error = excluded.error",
                (symbol, source, attempted, None if error else attempted, error),
            )

    def fetch_records(self, symbols: Iterable[str] | None = None) -> dict[str, FetchRecord]:
        """The last refresh outcome per symbol."""
        rows = self._db.query(
            "SELECT symbol, source, attempted_at, succeeded_at, error FROM fetch_log"
        )
        wanted = None if symbols is None else set(symbols)
        return {
            str(r[0]): FetchRecord(
                symbol=str(r[0]),
                source=str(r[1]),
                attempted_at=parse_ts(str(r[2])),
                succeeded_at=None if r[3] is None else parse_ts(str(r[3])),
                error=None if r[4] is None else str(r[4]),
            )
            for r in rows
            if wanted is None or r[0] in wanted
        }


def _first_changed(
    conn: sqlite3.Connection, symbol: str, rows: Sequence[tuple[str, str, float | None, str, str]]
) -> str | None:
    """The earliest of ``rows`` that revises a stored close or fills a hole before the last one.

    Closes compare to a relative 1e-9 (a value read back and written again is no revision);
    a not-a-number close equals another.
    """
    if not rows:
        return None
    stored = dict(
        conn.execute(
            "SELECT ts, close FROM prices WHERE symbol = ? AND ts >= ?",
            (symbol, min(r[1] for r in rows)),
        ).fetchall()
    )
    if not stored:
        return None
    latest = max(stored)
    changed = []
    for _, ts, close, _, _ in rows:
        if ts in stored:
            before = stored[ts]
            same = (before is None and close is None) or (
                before is not None
                and close is not None
                and math.isclose(float(before), close, rel_tol=1e-9, abs_tol=0.0)
            )
            if not same:
                changed.append(ts)
        elif ts < latest:
            changed.append(ts)
    return min(changed) if changed else None
