"""Small named facts the bot keeps between runs and processes: the ``meta`` table.

The latest snapshot (what ``/corr`` shows), the outcome of the latest run and of the latest
successful one (``/status``, ``corrbot health``), the running bot's heartbeat and last
normal poll (``health``), a 429 pause that must outlive a restart, and the sender lease
(:mod:`bot.core.sender_lease`). Each has a typed accessor here, and the key it is kept
under is private to this module, so no other module spells a key or parses a stored text.
A value that cannot be read (written by hand, or by a broken version) is logged and taken
as absent: a bad heartbeat must make ``health`` say "no heartbeat", not crash it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.core.snapshot import Snapshot
from bot.core.store.database import Database
from bot.core.store.timestamps import format_ts, parse_ts

__all__ = ["LastRun", "Meta", "put_snapshot"]

log = logging.getLogger(__name__)

_SNAPSHOT = "snapshot"
_LAST_RUN = "last_run"
_LAST_SUCCESS = "last_success"
_HEARTBEAT = "heartbeat"
_POLLED_AT = "polled_at"
_PAUSE_UNTIL = "telegram_pause_until"
_SENDER_LEASE = "sender_lease"


@dataclass(frozen=True)
class LastRun:
    """The outcome of one daily job, for ``/status`` and ``corrbot health``."""

    started_at: datetime
    finished_at: datetime
    ok: bool
    alerts: int
    as_of: date | None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        """The stored text: instants as UTC ``...Z`` text, the session as an ISO date."""
        return json.dumps(
            {
                "started_at": format_ts(self.started_at),
                "finished_at": format_ts(self.finished_at),
                "ok": self.ok,
                "alerts": self.alerts,
                "as_of": None if self.as_of is None else self.as_of.isoformat(),
                "problems": self.problems,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LastRun:
        """Inverse of :meth:`to_json`; raises ``ValueError`` on anything else."""
        try:
            data = json.loads(text)
            as_of = data["as_of"]
            return cls(
                started_at=parse_ts(str(data["started_at"])).to_pydatetime(),
                finished_at=parse_ts(str(data["finished_at"])).to_pydatetime(),
                ok=bool(data["ok"]),
                alerts=int(data["alerts"]),
                as_of=None if as_of is None else date.fromisoformat(str(as_of)),
                problems=[str(p) for p in data.get("problems", [])],
            )
        except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a run record: {exc}") from None


class Meta:
    """Typed reads and writes of the ``meta`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    # -- what the last run left ------------------------------------------------------

    def snapshot(self) -> Snapshot | None:
        """The snapshot stored by the last evaluation, if any."""
        text = self._get(_SNAPSHOT)
        if text is None:
            return None
        try:
            return Snapshot.from_json(text)
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("ignoring the unreadable snapshot in the store: the next run replaces it")
            return None

    def last_run(self) -> LastRun | None:
        """The latest daily job, whatever its outcome."""
        return self._run(_LAST_RUN)

    def last_success(self) -> LastRun | None:
        """The latest daily job that went well."""
        return self._run(_LAST_SUCCESS)

    def record_run(self, run: LastRun) -> None:
        """Keep ``run`` as the latest, and as the latest success when it went well."""
        text = run.to_json()
        with self._db.transaction() as conn:
            _put(conn, _LAST_RUN, text)
            if run.ok:
                _put(conn, _LAST_SUCCESS, text)

    # -- the running bot's signs of life --------------------------------------------------

    def heartbeat(self) -> datetime | None:
        """When the running bot last wrote its heartbeat."""
        return self._instant(_HEARTBEAT)

    def polled_at(self) -> datetime | None:
        """When Telegram last answered the running bot's poll normally."""
        return self._instant(_POLLED_AT)

    def beat(self, now: datetime, *, polled_at: datetime | None = None) -> None:
        """Write the heartbeat, and when getUpdates last answered if it has."""
        with self._db.transaction() as conn:
            _put(conn, _HEARTBEAT, format_ts(now))
            if polled_at is not None:
                _put(conn, _POLLED_AT, format_ts(polled_at))

    # -- Telegram's flood control, across restarts ---------------------------------------

    def pause_until(self) -> datetime | None:
        """Until when Telegram asked (429) that nothing be sent."""
        return self._instant(_PAUSE_UNTIL)

    def extend_pause(self, until: datetime) -> None:
        """Keep ``until`` as the end of the pause unless a later one is stored already."""
        stamp = format_ts(until)
        with self._db.transaction() as conn:
            stored = _read(conn, _PAUSE_UNTIL)
            if stored is None or stored < stamp:
                _put(conn, _PAUSE_UNTIL, stamp)

    # -- the sender lease ----------------------------------------------------------------

    def lease(self) -> str | None:
        """The sender lease as stored (JSON; :mod:`bot.core.sender_lease` reads it)."""
        return self._get(_SENDER_LEASE)

    def swap_lease(self, update: Callable[[str | None], str | None]) -> bool:
        """Compare-and-set: ``update`` sees the stored lease and returns the new one or ``None``.

        Read and write happen in one write-locking transaction, so two processes cannot both
        take a free lease. Returns whether anything was written.
        """
        with self._db.transaction() as conn:
            new = update(_read(conn, _SENDER_LEASE))
            if new is not None:
                _put(conn, _SENDER_LEASE, new)
        return new is not None

    # -- reading -------------------------------------------------------------------------

    def _get(self, key: str) -> str | None:
        rows = self._db.query("SELECT value FROM meta WHERE key = ?", [key])
        return None if not rows else str(rows[0][0])

    def _instant(self, key: str) -> datetime | None:
        text = self._get(key)
        if text is None:
            return None
        try:
            return parse_ts(text).to_pydatetime()
        except (ValueError, TypeError):  # not a date at all, or one without its zone
            log.warning("ignoring the unreadable %s %r in the store", key, text[:40])
            return None

    def _run(self, key: str) -> LastRun | None:
        text = self._get(key)
        if text is None:
            return None
        try:
            return LastRun.from_json(text)
        except ValueError:
            log.warning("ignoring the unreadable %s in the store", key)
            return None


def put_snapshot(conn: sqlite3.Connection, text: str) -> None:
    """Store the latest snapshot (JSON) inside the caller's transaction (a recorded run)."""
    _put(conn, _SNAPSHOT, text)


def _read(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def _put(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
