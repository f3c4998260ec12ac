"""The embedded SQLite store: WAL mode, a versioned schema, forward-only migrations.

One file holds everything corrbot must remember across restarts. This module owns the
connection, the schema and the price cache; later features (subscribers, alerts, the
delivery outbox) add their tables as further migrations and their queries as methods or
companion modules using :meth:`Store.transaction`.

Timestamps are stored as ISO-8601 UTC text (``2024-11-29T18:00:00Z``), which sorts
correctly and reads well in ``sqlite3``. The file is created owner-only (0600) because it
holds subscribers' chat ids.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bot.core.errors import DiskFullError, StoreError
from bot.core.models import Alert, AlertKind, Pair
from bot.core.outbox_sql import (
    deliver_to,
    fan_out,
    fan_out_digest,
    fan_out_follow_up,
    insert_outbound,
)

__all__ = ["MIGRATIONS", "FetchRecord", "Store", "StoredAlert", "format_ts", "parse_ts"]

#: Forward migrations; entry ``i`` takes the schema from version ``i`` to ``i + 1``.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE prices (
        symbol     TEXT NOT NULL,
        ts         TEXT NOT NULL,   -- observation instant, UTC
        close      REAL,            -- NULL when the source gave not-a-number
        source     TEXT NOT NULL,   -- e.g. ccxt:kraken, yfinance, csv, synthetic
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (symbol, ts)
    ) WITHOUT ROWID;
    CREATE TABLE fetch_log (
        symbol       TEXT PRIMARY KEY,
        source       TEXT NOT NULL,
        attempted_at TEXT NOT NULL,
        succeeded_at TEXT,
        error        TEXT
    );
    -- instants a source was asked for and did not have (pre-listing days, outages)
    -- remembered so a refresh does not ask again, and flagged by the quality checks
    CREATE TABLE price_gaps (
        symbol     TEXT NOT NULL,
        ts         TEXT NOT NULL,
        checked_at TEXT NOT NULL,
        PRIMARY KEY (symbol, ts)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE alerts (
        id          INTEGER PRIMARY KEY,
        key         TEXT NOT NULL UNIQUE,   -- rule:pair:window:session, recorded once
        kind        TEXT NOT NULL,
        crypto      TEXT NOT NULL,
        equity      TEXT NOT NULL,
        window_len  INTEGER NOT NULL,
        session     TEXT NOT NULL,          -- NYSE session date the data is as of
        corr        REAL NOT NULL,
        prev_corr   REAL,
        z           REAL,
        regime_from TEXT,
        regime_to   TEXT,
        catch_up    INTEGER NOT NULL DEFAULT 0,
        since       TEXT,
        message     TEXT NOT NULL,          -- the plain-text rendering, for history
        created_at  TEXT NOT NULL
    );
    CREATE INDEX alerts_by_session ON alerts (session);
    CREATE TABLE engine_state (
        crypto     TEXT NOT NULL,
        equity     TEXT NOT NULL,
        window_len INTEGER NOT NULL,
        state      TEXT NOT NULL,           -- JSON of the engine's PairState
        updated_at TEXT NOT NULL,
        PRIMARY KEY (crypto, equity, window_len)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE chats (
        chat_id            INTEGER PRIMARY KEY,
        thread_id          INTEGER,          -- forum topic the chat subscribed from
        kind               TEXT NOT NULL,    -- private | group | supergroup | channel
        title              TEXT NOT NULL DEFAULT '',
        active             INTEGER NOT NULL DEFAULT 1,
        spikes             TEXT NOT NULL DEFAULT 'on',   -- on | silent | off
        regimes            TEXT NOT NULL DEFAULT 'on',   -- on | silent | off
        digest             INTEGER NOT NULL DEFAULT 0,
        subscribed_at      TEXT,
        unsubscribed_at    TEXT,
        deactivated_reason TEXT,
        updated_at         TEXT NOT NULL
    );
    CREATE TABLE outbound (
        id         INTEGER PRIMARY KEY,
        key        TEXT NOT NULL UNIQUE,     -- an alert key, or digest:<session>
        kind       TEXT NOT NULL,            -- spike | decoupling | regime | digest | notice
        alert_id   INTEGER REFERENCES alerts (id),
        payload    TEXT NOT NULL,            -- the transport-neutral message, JSON
        created_at TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        id              INTEGER PRIMARY KEY,
        outbound_id     INTEGER NOT NULL REFERENCES outbound (id),
        chat_id         INTEGER NOT NULL,
        thread_id       INTEGER,
        silent          INTEGER NOT NULL DEFAULT 0,
        status          TEXT NOT NULL DEFAULT 'pending', -- or sending, sent, failed, dropped
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT,
        message_id      INTEGER,
        created_at      TEXT NOT NULL,
        sent_at         TEXT,
        UNIQUE (outbound_id, chat_id)
    );
    CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at)
    """,
    """
    ALTER TABLE alerts ADD COLUMN direction TEXT;    -- up | down: the correlation rose or fell
    ALTER TABLE alerts ADD COLUMN lower REAL;        -- 95% interval of corr
    ALTER TABLE alerts ADD COLUMN upper REAL;
    ALTER TABLE alerts ADD COLUMN prev_lower REAL;   -- 95% interval of prev_corr
    ALTER TABLE alerts ADD COLUMN prev_upper REAL;
    ALTER TABLE alerts ADD COLUMN notify INTEGER NOT NULL DEFAULT 1;  -- 0: silent follow-up
    ALTER TABLE alerts ADD COLUMN episode TEXT;      -- key of the alert that opened it
    ALTER TABLE outbound ADD COLUMN reply_to TEXT;   -- key of the outbound this one answers
    -- alerts of earlier versions: a decoupling, or a regime change to a lower band, fell
    UPDATE alerts SET direction = CASE
        WHEN kind = 'decoupling' THEN 'down'
        WHEN kind = 'regime' AND regime_from IS NOT NULL AND (
            CASE regime_to WHEN 'inverse' THEN 0 WHEN 'decoupled' THEN 1
                WHEN 'linked' THEN 2 ELSE 3 END
        ) < (
            CASE regime_from WHEN 'inverse' THEN 0 WHEN 'decoupled' THEN 1
                WHEN 'linked' THEN 2 ELSE 3 END
        ) THEN 'down'
        ELSE 'up'
    END
    """,
    """
    -- the earliest price instant of either leg revised, or filled late, after this state
    -- was saved: the engine re-evaluates the sessions from there (NULL: nothing to redo)
    ALTER TABLE engine_state ADD COLUMN reopen_at TEXT
    """,
)


def format_ts(value: datetime | pd.Timestamp) -> str:
    """UTC ISO-8601 text with a ``Z``; naive values are taken to be UTC already."""
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str) -> pd.Timestamp:
    """Inverse of :func:`format_ts`."""
    return pd.Timestamp(text).tz_convert("UTC")


@dataclass(frozen=True, slots=True)
class FetchRecord:
    """The outcome of the most recent refresh of one symbol."""

    symbol: str
    source: str
    attempted_at: pd.Timestamp
    succeeded_at: pd.Timestamp | None
    error: str | None


class Store:
    """A SQLite database opened, migrated and ready; use :meth:`open`."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._conn = connection
        self._lock = threading.RLock()
        self.path = path

    # -- lifecycle -------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str) -> Store:
        """Open (creating it owner-only if needed) and migrate the store at ``path``."""
        path = Path(path)
        if str(path) != ":memory:":
            _create_private(path)
        try:
            conn = sqlite3.connect(
                path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise _translated(exc, path, f"cannot open the store at {path}: {exc}") from None
        store = cls(conn, path)
        try:
            store._check_integrity()
            store._check_version()  # before WAL: a newer corrbot's file is left as it is
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            store._migrate()
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise _translated(
                exc,
                path,
                f"the store at {path} is unreadable ({exc}); move it aside to start afresh",
            ) from None
        return store

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def _check_integrity(self) -> None:
        """Refuse a damaged file at start-up rather than fail on the first read mid-run.

        ``quick_check`` reads every page (about 20 ms for 30 symbols x 10 years, 5 MB) but
        skips the costly index-content comparison of a full ``integrity_check``.
        """
        problems = [str(row[0]) for row in self._conn.execute("PRAGMA quick_check(3)")]
        if problems != ["ok"]:
            raise StoreError(
                f"the store at {self.path} is damaged ({'; '.join(problems)}); "
                "move it aside to start afresh"
            )

    def _check_version(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StoreError(
                f"the store at {self.path} has schema version {version}, newer than this "
                f"corrbot understands ({len(MIGRATIONS)}); upgrade corrbot"
            )

    def _migrate(self) -> None:
        version = self.schema_version
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction() as conn:
                for statement in _statements(script):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {target:d}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction: all of it is written, or none."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _translated(
                    exc, self.path, f"the store at {self.path} is busy or locked: {exc}"
                ) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._roll_back()
                raise _translated(
                    exc, self.path, f"cannot write to the store at {self.path}: {exc}"
                ) from None
            except BaseException:
                self._roll_back()
                raise

    def _roll_back(self) -> None:
        """Undo the open transaction, if SQLite has not already (it does on a full disk).

        A failing ROLLBACK must not replace the error that caused it, so it is ignored:
        either way nothing of the transaction was written.
        """
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        """Run a read-only statement; errors become ``StoreError``."""
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _translated(
                    exc, self.path, f"cannot read the store at {self.path}: {exc}"
                ) from None

    # -- the price cache -------------------------------------------------------------

    def upsert_prices(
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
        with self.transaction() as conn:
            since = None if reopen_from is None else format_ts(reopen_from)
            reopen = _first_changed(
                conn, symbol, [r for r in rows if since is None or r[1] >= since]
            )
            if reopen is not None:
                conn.execute(
                    "UPDATE engine_state SET reopen_at = ? "
                    "WHERE (crypto = ? OR equity = ?) AND (reopen_at IS NULL OR reopen_at > ?)",
                    (reopen, symbol, symbol, reopen),
                )
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

    def load_prices(self, symbol: str, *, since: datetime | None = None) -> pd.Series:
        """Cached closes of ``symbol`` indexed by UTC instant (NaN where none was given)."""
        sql = "SELECT ts, close FROM prices WHERE symbol = ?"
        params: list[object] = [symbol]
        if since is not None:
            sql += " AND ts >= ?"
            params.append(format_ts(since))
        rows = self.query(sql + " ORDER BY ts", params)
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
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO price_gaps (symbol, ts, checked_at) VALUES (?, ?, ?) "
                "ON CONFLICT (symbol, ts) DO UPDATE SET checked_at = excluded.checked_at",
                rows,
            )

    def known_gaps(self, symbol: str) -> pd.DatetimeIndex:
        """Instants already asked for and known to be absent at the source."""
        rows = self.query("SELECT ts FROM price_gaps WHERE symbol = ? ORDER BY ts", [symbol])
        return pd.DatetimeIndex(pd.to_datetime([str(r[0]) for r in rows], utc=True).as_unit("ns"))

    def prune_before(self, symbol: str, cutoff: datetime) -> int:
        """Forget cached prices and gaps older than ``cutoff``; returns prices removed."""
        stamp = format_ts(cutoff)
        with self.transaction() as conn:
            removed = conn.execute(
                "DELETE FROM prices WHERE symbol = ? AND ts < ?", (symbol, stamp)
            ).rowcount
            conn.execute("DELETE FROM price_gaps WHERE symbol = ? AND ts < ?", (symbol, stamp))
        return int(removed)

    def price_sources(self, symbol: str) -> list[str]:
        """Distinct sources that contributed cached closes for ``symbol``, most used first."""
        rows = self.query(
            "SELECT source FROM prices WHERE symbol = ? GROUP BY source ORDER BY COUNT(*) DESC",
            [symbol],
        )
        return [str(r[0]) for r in rows]

    def record_fetch(
        self, symbol: str, *, source: str, attempted_at: datetime, error: str | None
    ) -> None:
        """Remember the outcome of a refresh; a failure keeps the last success time."""
        attempted = format_ts(attempted_at)
        with self.transaction() as conn:
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
        rows = self.query("SELECT symbol, source, attempted_at, succeeded_at, error FROM fetch_log")
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

    # -- alerts and engine state -------------------------------------------------------

    def engine_states(self, window: int) -> dict[Pair, str]:
        """The persisted engine state (JSON) of every pair for ``window``."""
        rows = self.query(
            "SELECT crypto, equity, state FROM engine_state WHERE window_len = ?", [window]
        )
        return {Pair(str(r[0]), str(r[1])): str(r[2]) for r in rows}

    def engine_reopenings(self, window: int) -> dict[Pair, pd.Timestamp]:
        """Per pair, the earliest price instant revised or filled late since its state was saved."""
        rows = self.query(
            "SELECT crypto, equity, reopen_at FROM engine_state "
            "WHERE window_len = ? AND reopen_at IS NOT NULL",
            [window],
        )
        return {Pair(str(r[0]), str(r[1])): parse_ts(str(r[2])) for r in rows}

    def record_check(
        self,
        alerts: Sequence[tuple[Alert, str, str]],
        *,
        window: int,
        states: Mapping[Pair, str],
        snapshot: str | None,
        now: datetime,
        digest: tuple[str, str] | None = None,
        reopened: Mapping[Pair, pd.Timestamp] | None = None,
    ) -> list[StoredAlert]:
        """Record a run's alerts, their deliveries, engine states and snapshot atomically.

        Each alert comes with its plain text and its message payload (JSON). An alert whose
        key exists already is not recorded again (re-running a session creates nothing);
        a new one gets one delivery row per eligible chat in the same transaction, so no
        alert is ever recorded without its deliveries. ``digest`` (key, payload) is the day's
        summary for chats that asked for one, also recorded once. ``reopened`` are the
        re-openings (:meth:`engine_reopenings`) this run's states took into account: they are
        cleared, unless a price changed again meanwhile. Returns the new alerts.
        """
        stamp = format_ts(now)
        recorded: list[StoredAlert] = []
        with self.transaction() as conn:
            for alert, message, payload in alerts:
                cursor = conn.execute(
                    f"INSERT INTO alerts ({_ALERT_COLUMNS}, message, created_at) "
                    f"VALUES ({', '.join('?' * (_ALERT_FIELDS + 2))}) "
                    "ON CONFLICT (key) DO NOTHING",
                    (*_alert_row(alert), message, stamp),
                )
                if cursor.rowcount == 1:
                    alert_id = int(cursor.lastrowid or 0)
                    recorded.append(StoredAlert(alert_id, alert, message))
                    reply_to = None if alert.opens_episode else alert.episode
                    outbound_id = insert_outbound(
                        conn,
                        alert.key,
                        alert.kind.value,
                        payload,
                        stamp,
                        alert_id=alert_id,
                        reply_to=reply_to,
                    )
                    if reply_to is None:
                        fan_out(conn, outbound_id, alert.kind, stamp)
                    else:
                        fan_out_follow_up(conn, outbound_id, alert.kind, reply_to, stamp)
            conn.executemany(
                "INSERT INTO engine_state (crypto, equity, window_len, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (crypto, equity, window_len) "
                "DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                [(p.crypto, p.equity, window, state, stamp) for p, state in states.items()],
            )
            conn.executemany(
                "UPDATE engine_state SET reopen_at = NULL "
                "WHERE crypto = ? AND equity = ? AND window_len = ? AND reopen_at = ?",
                [(p.crypto, p.equity, window, format_ts(at)) for p, at in (reopened or {}).items()],
            )
            if digest is not None:
                key, payload = digest
                exists = conn.execute("SELECT 1 FROM outbound WHERE key = ?", (key,))
                if exists.fetchone() is None:
                    fan_out_digest(
                        conn, insert_outbound(conn, key, "digest", payload, stamp), stamp
                    )
            if snapshot is not None:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('snapshot', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (snapshot,),
                )
        return recorded

    def alert_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` are recorded already."""
        if not keys:
            return set()
        marks = ", ".join("?" for _ in keys)
        rows = self.query(f"SELECT key FROM alerts WHERE key IN ({marks})", list(keys))
        return {str(row[0]) for row in rows}

    def recent_alerts(self, limit: int) -> list[StoredAlert]:
        """The latest ``limit`` alerts, newest first."""
        rows = self.query(
            f"SELECT id, message, {_ALERT_COLUMNS} FROM alerts "
            "ORDER BY session DESC, id DESC LIMIT ?",
            [limit],
        )
        return [_stored_alert(row) for row in rows]

    def record_notice(self, key: str, payload: str, chat_ids: list[int], *, now: datetime) -> bool:
        """Queue a message to named chats (admins), once per key; returns whether it is new."""
        stamp = format_ts(now)
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM outbound WHERE key = ?", (key,)).fetchone():
                return False
            deliver_to(conn, insert_outbound(conn, key, "notice", payload, stamp), chat_ids, stamp)
        return True

    # -- key/value -------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A small piece of persisted state, or ``None``."""
        rows = self.query("SELECT value FROM meta WHERE key = ?", [key])
        return None if not rows else str(rows[0][0])

    def set_meta(self, key: str, value: str) -> None:
        """Persist a small piece of state."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as recorded: its row id, the alert and its plain-text message."""

    id: int
    alert: Alert
    message: str


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
    ident, msg, *fields = row
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
    return StoredAlert(int(str(ident)), alert, str(msg))


#: SQLite's primary result codes that a full disk produces: SQLITE_FULL, and SQLITE_IOERR and
#: SQLITE_CANTOPEN when the journal or the WAL index cannot be created for want of space.
_SQLITE_FULL, _SQLITE_IOERR, _SQLITE_CANTOPEN = 13, 10, 14
#: Below this much free space an I/O error is taken for a full disk (a page, a WAL frame).
_NEARLY_FULL_BYTES = 1 << 20


def _translated(exc: sqlite3.Error, path: Path, otherwise: str) -> StoreError:
    """The store error for ``exc``: a full disk is named as such, with what to do about it."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code == _SQLITE_FULL or (code in (_SQLITE_IOERR, _SQLITE_CANTOPEN) and _nearly_full(path)):
        free = _free_bytes(path)
        shown = "" if free is None else f", {free // 1024} KiB free"
        return DiskFullError(
            f"the disk holding the store at {path} is full ({exc}{shown}): free some space; "
            "the store itself is intact, keep it"
        )
    return StoreError(otherwise)


def _free_bytes(path: Path) -> int | None:
    if str(path) == ":memory:":
        return None
    try:
        return shutil.disk_usage(path.resolve().parent).free
    except OSError:
        return None


def _nearly_full(path: Path) -> bool:
    free = _free_bytes(path)
    return free is not None and free < _NEARLY_FULL_BYTES


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


def _create_private(path: Path) -> None:
    """Create the database file owner-only before SQLite does, so it never exists wider."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise DiskFullError(
                f"the disk holding the store at {path} is full: free some space"
            ) from None
        raise StoreError(f"cannot create the store at {path}: {exc.strerror}") from None


def _statements(script: str) -> list[str]:
    """Split a migration script on semicolons (none inside the scripts' string literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]
