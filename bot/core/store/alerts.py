"""Alerts as recorded, and the engine's state per pair: what was said, and where it stands.

Owns the ``alerts`` and ``engine_state`` tables. An alert is recorded once per key (rule,
pair, window and session), so re-running a session creates nothing; the engine state is
what lets the next run go on from the last session seen, and its ``reopen_at`` marks the
sessions a revised or late price sends back through the rules.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from bot.core.models import Alert, AlertKind, Pair
from bot.core.store.database import Database
from bot.core.store.timestamps import format_ts, parse_ts

__all__ = [
    "Alerts",
    "StoredAlert",
    "clear_reopenings",
    "insert_alert",
    "reopen_pairs_of",
    "save_states",
]


class Alerts:
    """Reads ``alerts`` and ``engine_state``; the writes happen inside a recorded run."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def engine_states(self, window: int) -> dict[Pair, str]:
        """The persisted engine state (JSON) of every pair for ``window``."""
        rows = self._db.query(
            "SELECT crypto, equity, state FROM engine_state WHERE window_len = ?", [window]
        )
        return {Pair(str(r[0]), str(r[1])): str(r[2]) for r in rows}

    def reopenings(self, window: int) -> dict[Pair, pd.Timestamp]:
        """Per pair, the earliest price instant revised or filled late since its state was saved."""
        rows = self._db.query(
            "SELECT crypto, equity, reopen_at FROM engine_state "
            "WHERE window_len = ? AND reopen_at IS NOT NULL",
            [window],
        )
        return {Pair(str(r[0]), str(r[1])): parse_ts(str(r[2])) for r in rows}

    def known(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are recorded already."""
        if not keys:
            return set()
        marks = ", ".join("?" for _ in keys)
        rows = self._db.query(f"SELECT key FROM alerts WHERE key IN ({marks})", list(keys))
        return {str(row[0]) for row in rows}

    def recent(self, limit: int) -> list[StoredAlert]:
        """The latest ``limit`` alerts, newest first."""
        rows = self._db.query(
            f"SELECT id, {_ALERT_COLUMNS} FROM alerts ORDER BY session DESC, id DESC LIMIT ?",
            [limit],
        )
        return [_stored_alert(row) for row in rows]


def insert_alert(conn: sqlite3.Connection, alert: Alert, stamp: str) -> int | None:
    """Record ``alert`` unless its key is recorded already; returns its new row id, if new."""
    cursor = conn.execute(
        f"INSERT INTO alerts ({_ALERT_COLUMNS}, created_at) "
        f"VALUES ({', '.join('?' * (_ALERT_FIELDS + 1))}) ON CONFLICT (key) DO NOTHING",
        (*_alert_row(alert), stamp),
    )
    return int(cursor.lastrowid or 0) if cursor.rowcount == 1 else None


def save_states(
    conn: sqlite3.Connection, window: int, states: Mapping[Pair, str], stamp: str
) -> None:
    """Store each pair's engine state (JSON) for ``window``, replacing the previous one."""
    conn.executemany(
        "INSERT INTO engine_state (crypto, equity, window_len, state, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (crypto, equity, window_len) "
        "DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        [(p.crypto, p.equity, window, state, stamp) for p, state in states.items()],
    )


def clear_reopenings(
    conn: sqlite3.Connection, window: int, reopened: Mapping[Pair, pd.Timestamp]
) -> None:
    """Forget the re-openings a run took into account, unless a price changed again since."""
    conn.executemany(
        "UPDATE engine_state SET reopen_at = NULL "
        "WHERE crypto = ? AND equity = ? AND window_len = ? AND reopen_at = ?",
        [(p.crypto, p.equity, window, format_ts(at)) for p, at in reopened.items()],
    )


def reopen_pairs_of(conn: sqlite3.Connection, symbol: str, instant: str) -> None:
    """Send every pair with ``symbol`` back to ``instant`` (UTC text) unless already further."""
    conn.execute(
        "UPDATE engine_state SET reopen_at = ? "
        "WHERE (crypto = ? OR equity = ?) AND (reopen_at IS NULL OR reopen_at > ?)",
        (instant, symbol, symbol, instant),
    )


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as recorded: its row id and the alert."""

    id: int
    alert: Alert


#: The columns of an alert, in the order of :func:`_alert_row` and :func:`_stored_alert`.
_ALERT_COLUMNS = (
    "key, kind, crypto, equity, window_len, session, corr, prev_corr, z, regime_from, "
    "regime_to, catch_up, since, direction, lower, upper, prev_lower, prev_upper, notify, episode"
)
_ALERT_FIELDS = _ALERT_COLUMNS.count(",") + 1


def _alert_row(alert: Alert) -> tuple[object, ...]:
    return (
        alert.key,
        alert.kind.value,
        alert.pair.crypto,
        alert.pair.equity,
        alert.window,
        alert.session.isoformat(),
        alert.corr,
        _real(alert.prev_corr),
        _real(alert.z),
        alert.regime_from,
        alert.regime_to,
        int(alert.catch_up),
        None if alert.since is None else alert.since.isoformat(),
        alert.direction,
        _real(alert.lower),
        _real(alert.upper),
        _real(alert.prev_lower),
        _real(alert.prev_upper),
        int(alert.notify),
        alert.episode,
    )


def _real(value: float) -> float | None:
    return None if math.isnan(value) else value


def _number(value: object) -> float:
    return math.nan if value is None else float(str(value))


def _stored_alert(row: tuple[object, ...]) -> StoredAlert:
    ident, *fields = row
    (
        _key,
        kind,
        crypto,
        equity,
        window,
        session,
        corr,
        prev,
        z,
        r_from,
        r_to,
        catch_up,
        since,
        direction,
        lower,
        upper,
        prev_lower,
        prev_upper,
        notify,
        episode,
    ) = fields
    alert = Alert(
        kind=AlertKind(str(kind)),
        pair=Pair(str(crypto), str(equity)),
        window=int(str(window)),
        session=date.fromisoformat(str(session)),
        corr=float(str(corr)),
        prev_corr=_number(prev),
        z=_number(z),
        regime_from=None if r_from is None else str(r_from),
        regime_to=None if r_to is None else str(r_to),
        catch_up=bool(catch_up),
        since=None if since is None else date.fromisoformat(str(since)),
        direction="down" if direction == "down" else "up",
        lower=_number(lower),
        upper=_number(upper),
        prev_lower=_number(prev_lower),
        prev_upper=_number(prev_upper),
        notify=bool(notify),
        episode=None if episode is None else str(episode),
    )
    return StoredAlert(int(str(ident)), alert)
