"""The delivery outbox: who receives what, claim what is due, record what happened.

Owns the ``outbound`` (one row per message to send) and ``deliveries`` (one row per message
and chat) tables; longer than most modules because every statement on them lives here, so
the fan-out rule and the delivery state machine are read, and changed, together.

Fan-out: a chat receives an alert unless its setting for that kind of alert is ``off``;
``silent`` means delivered without a notification. A follow-up inside an episode goes only
to the chats that were sent the episode's first alert.

Every delivery row moves ``pending -> sending -> sent``; a failure either schedules a
retry (``pending`` again, later), gives up (``failed``), or drops it because the chat is
gone (``dropped``). A row is marked ``sending`` just before its request leaves and ``sent``
as soon as Telegram confirms, so after a crash only rows caught in flight are sent again,
and a confirmed delivery never is.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.message import Message
from bot.core.models import Alert, AlertKind
from bot.core.rules import SETTING_FOR
from bot.core.store.database import Database
from bot.core.store.timestamps import format_ts, parse_ts

__all__ = [
    "Due",
    "Outbox",
    "OutboxCounts",
    "SetAside",
    "deliver_to",
    "drop_chat",
    "fan_out",
    "fan_out_digest",
    "fan_out_follow_up",
    "insert_outbound",
    "move_chat",
    "queue_alert",
    "queue_digest",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Due:
    """One delivery ready to be attempted."""

    id: int
    outbound_id: int
    key: str
    chat_id: int
    thread_id: int | None
    silent: bool
    attempts: int
    message: Message
    reply_to: int | None = None  # the chat's message this one answers (an episode's first)


@dataclass(frozen=True, slots=True)
class SetAside:
    """A delivery :meth:`Outbox.due` could not read and settled as failed instead."""

    id: int
    key: str
    chat_id: int
    error: str


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """Deliveries by status, for /status and metrics."""

    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    dropped: int = 0


#: A delivery ``d`` of outbound ``o`` is not held back: if ``o`` answers an episode's first
#: message, that message's delivery to the same chat is settled (sent, failed or dropped).
_NOT_HELD = (
    "NOT EXISTS (SELECT 1 FROM deliveries w JOIN outbound wo ON wo.id = w.outbound_id "
    "WHERE wo.key = o.reply_to AND w.chat_id = d.chat_id AND w.status IN ('pending', 'sending'))"
)


class Outbox:
    """Reads and writes ``outbound`` and ``deliveries`` outside a recorded run."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._payloads: dict[int, Message] = {}
        #: Rows :meth:`due` set aside since the caller last emptied this list (to tell admins).
        self.set_aside: list[SetAside] = []

    def resume(self, *, exclude: set[int] | None = None) -> int:
        """Deliveries caught in flight by a crash become due again.

        Only the holder of the store's sender lease may call this: another process's
        ``sending`` rows are really in flight. ``exclude`` names this process's own.
        """
        keep = sorted(exclude or ())
        marks = ", ".join("?" * len(keep))
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE deliveries SET status = 'pending' WHERE status = 'sending'"
                + (f" AND id NOT IN ({marks})" if keep else ""),
                keep,
            )
        return int(cursor.rowcount)

    def due(self, now: datetime, *, limit: int = 200, exclude: set[int] | None = None) -> list[Due]:
        """Pending deliveries whose time has come, oldest first."""
        rows = self._db.query(
            "SELECT d.id, d.outbound_id, o.key, d.chat_id, d.thread_id, d.silent, d.attempts, "
            "first.message_id FROM deliveries d JOIN outbound o ON o.id = d.outbound_id "
            "LEFT JOIN outbound opening ON opening.key = o.reply_to "
            "LEFT JOIN deliveries first ON first.outbound_id = opening.id "
            "AND first.chat_id = d.chat_id AND first.status = 'sent' "
            f"WHERE d.status = 'pending' AND d.next_attempt_at <= ? AND {_NOT_HELD} "
            "ORDER BY d.id LIMIT ?",
            [format_ts(now), limit + len(exclude or ())],
        )
        due = []
        for ident, outbound_id, key, chat_id, thread_id, silent, attempts, reply_to in rows:
            if exclude and int(str(ident)) in exclude:
                continue
            try:
                message = self._payload(int(str(outbound_id)))
            except Exception as exc:  # any unreadable payload, old formats too
                self._set_aside(int(str(ident)), str(key), int(str(chat_id)), exc)
                continue
            due.append(
                Due(
                    id=int(str(ident)),
                    outbound_id=int(str(outbound_id)),
                    key=str(key),
                    chat_id=int(str(chat_id)),
                    thread_id=None if thread_id is None else int(str(thread_id)),
                    silent=bool(silent),
                    attempts=int(str(attempts)),
                    message=message,
                    reply_to=None if reply_to is None else int(str(reply_to)),
                )
            )
        return due[:limit]

    def _set_aside(self, delivery_id: int, key: str, chat_id: int, exc: Exception) -> None:
        """Fail one row whose message cannot be read, instead of failing every drain.

        Left pending, the row would raise again at every pass (and after every restart)
        and hold up everything queued behind it.
        """
        error = f"unreadable message: {type(exc).__name__}: {exc}"[:500]
        self.fail(delivery_id, error=error)
        self.set_aside.append(SetAside(delivery_id, key, chat_id, error))
        log.error(
            "delivery %s of %s to chat %s set aside: %s",
            delivery_id,
            key,
            chat_id,
            error,
            extra={"event": "delivery.failed", "chat_id": chat_id, "alert": key},
        )

    def _payload(self, outbound_id: int) -> Message:
        if outbound_id not in self._payloads:
            text = self._db.query("SELECT payload FROM outbound WHERE id = ?", [outbound_id])
            self._payloads[outbound_id] = Message.from_json(str(text[0][0]))
        return self._payloads[outbound_id]

    def next_due_at(self) -> datetime | None:
        """When the earliest pending delivery becomes due, if any is pending.

        A reply held behind its opening does not count: it can go no earlier than the
        opening, which does (or is in flight), so a sender sleeps until then instead of
        polling a row it may not send yet.
        """
        rows = self._db.query(
            "SELECT MIN(d.next_attempt_at) FROM deliveries d "
            f"JOIN outbound o ON o.id = d.outbound_id WHERE d.status = 'pending' AND {_NOT_HELD}"
        )
        value = rows[0][0] if rows else None
        return None if value is None else parse_ts(str(value)).to_pydatetime()

    def claim(self, delivery_id: int) -> bool:
        """Mark one delivery in flight; ``False`` if someone else took it or it was dropped."""
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE deliveries SET status = 'sending', attempts = attempts + 1 "
                "WHERE id = ? AND status = 'pending'",
                (delivery_id,),
            )
        return cursor.rowcount == 1

    def sent(self, delivery_id: int, *, message_id: int | None, now: datetime) -> None:
        """Telegram confirmed the delivery: it will never be sent again."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = 'sent', message_id = ?, sent_at = ?, "
                "last_error = NULL WHERE id = ?",
                (message_id, format_ts(now), delivery_id),
            )

    def retry(self, delivery_id: int, *, at: datetime, error: str, count: bool = True) -> None:
        """Try again at ``at``; a rate-limit wait (``count=False``) is not held against it.

        Only a row in flight is rescheduled: one settled meanwhile (dropped as merged
        by a chat migration, say) stays settled.
        """
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, last_error = ?, "
                "attempts = MAX(0, attempts - ?) WHERE id = ? AND status = 'sending'",
                (format_ts(_next_whole_second(at)), error, 0 if count else 1, delivery_id),
            )

    def refund(self, delivery_ids: set[int], *, now: datetime) -> int:
        """Give back one attempt to each pending row (their failure was an outage's), due now.

        Returns how many rows got one back.
        """
        if not delivery_ids:
            return 0
        ids = sorted(delivery_ids)
        marks = ", ".join("?" * len(ids))
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE deliveries SET attempts = attempts - 1, next_attempt_at = ? "
                f"WHERE id IN ({marks}) AND status = 'pending' AND attempts > 0",
                (format_ts(_next_whole_second(now)), *ids),
            )
        return int(cursor.rowcount)

    def fail(self, delivery_id: int, *, error: str) -> None:
        """Give up on a delivery that cannot succeed; it stays on record with its error."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = 'failed', last_error = ? WHERE id = ?",
                (error, delivery_id),
            )

    def drop(self, delivery_id: int, *, error: str) -> None:
        """The recipient is gone; the delivery stays on record as dropped."""
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE deliveries SET status = 'dropped', last_error = ? WHERE id = ?",
                (error, delivery_id),
            )

    def notice(self, key: str, payload: str, chat_ids: Sequence[int], *, now: datetime) -> bool:
        """Queue a message to named chats (admins), once per key; returns whether it is new."""
        stamp = format_ts(now)
        with self._db.transaction() as conn:
            outbound_id = _insert_new(conn, key, "notice", payload, stamp)
            if outbound_id is not None:
                deliver_to(conn, outbound_id, chat_ids, stamp)
        return outbound_id is not None

    def audience(self, kind: AlertKind, *, follows: str | None = None) -> int:
        """How many chats an alert of ``kind`` would reach, as :func:`fan_out` decides.

        A follow-up (``follows``: the key of its episode's recorded first alert) reaches only
        the chats that were sent that first alert, as :func:`fan_out_follow_up` decides.
        """
        setting = SETTING_FOR[kind]  # a fixed column name, never user input
        if follows is None:
            rows = self._db.query(
                f"SELECT COUNT(*) FROM chats WHERE active = 1 AND {setting} != 'off'"
            )
        else:
            rows = self._db.query(
                "SELECT COUNT(*) FROM chats c JOIN deliveries first ON first.chat_id = c.chat_id "
                "JOIN outbound opening ON opening.id = first.outbound_id AND opening.key = ? "
                f"WHERE c.active = 1 AND c.{setting} != 'off' "
                "AND first.status IN ('pending', 'sending', 'sent')",
                (follows,),
            )
        return int(str(rows[0][0]))

    def status(self, delivery_id: int) -> str | None:
        """One delivery's status, or ``None`` if there is no such row."""
        rows = self._db.query("SELECT status FROM deliveries WHERE id = ?", [delivery_id])
        return str(rows[0][0]) if rows else None

    def counts(self) -> OutboxCounts:
        """Deliveries by status."""
        rows = self._db.query("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        return OutboxCounts(**{str(status): int(str(n)) for status, n in rows})

    @staticmethod
    def backoff(attempts: int, *, base: float = 2.0, cap: float = 600.0) -> timedelta:
        """Bounded exponential backoff for transient failures: 2 s, 4 s, ... up to 10 min."""
        return timedelta(seconds=min(cap, base ** max(1, attempts)))


# -- inside a recorded run or a chat change: one transaction with the caller's writes


def queue_alert(
    conn: sqlite3.Connection, alert: Alert, alert_id: int, payload: str, stamp: str
) -> int:
    """The outbound message of a newly recorded alert and its deliveries; returns how many.

    An episode's first alert goes to every chat that wants its kind; a follow-up only to
    the chats that were sent that first alert, as a reply to it.
    """
    reply_to = None if alert.opens_episode else alert.episode
    outbound_id = insert_outbound(
        conn, alert.key, alert.kind.value, payload, stamp, alert_id=alert_id, reply_to=reply_to
    )
    if reply_to is None:
        return fan_out(conn, outbound_id, alert.kind, stamp)
    return fan_out_follow_up(conn, outbound_id, alert.kind, reply_to, stamp)


def queue_digest(conn: sqlite3.Connection, key: str, payload: str, stamp: str) -> int:
    """The day's digest to the chats that asked for it, once per key; returns how many."""
    outbound_id = _insert_new(conn, key, "digest", payload, stamp)
    return 0 if outbound_id is None else fan_out_digest(conn, outbound_id, stamp)


def insert_outbound(
    conn: sqlite3.Connection,
    key: str,
    kind: str,
    payload: str,
    stamp: str,
    *,
    alert_id: int | None = None,
    reply_to: str | None = None,
) -> int:
    """Store one message to send; returns its id (the existing one for a known key).

    ``reply_to`` names the outbound message this one answers (an episode's first alert).
    """
    conn.execute(
        "INSERT INTO outbound (key, kind, alert_id, payload, created_at, reply_to) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
        (key, kind, alert_id, payload, stamp, reply_to),
    )
    row = conn.execute("SELECT id FROM outbound WHERE key = ?", (key,)).fetchone()
    return int(row[0])


def _insert_new(
    conn: sqlite3.Connection, key: str, kind: str, payload: str, stamp: str
) -> int | None:
    """Store a message sent once per key (a notice, a digest); its id, or ``None`` if known."""
    cursor = conn.execute(
        "INSERT INTO outbound (key, kind, payload, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (key) DO NOTHING",
        (key, kind, payload, stamp),
    )
    return int(cursor.lastrowid or 0) if cursor.rowcount == 1 else None


def fan_out(conn: sqlite3.Connection, outbound_id: int, kind: AlertKind, stamp: str) -> int:
    """One pending delivery per active chat whose setting for ``kind`` is not ``off``."""
    setting = SETTING_FOR[kind]  # a fixed column name from the table above, never user input
    cursor = conn.execute(
        "INSERT INTO deliveries (outbound_id, chat_id, thread_id, silent, status, "
        "next_attempt_at, created_at) "
        f"SELECT ?, chat_id, thread_id, {setting} = 'silent', 'pending', ?, ? FROM chats "
        f"WHERE active = 1 AND {setting} != 'off' "
        "ON CONFLICT (outbound_id, chat_id) DO NOTHING",
        (outbound_id, stamp, stamp),
    )
    return int(cursor.rowcount)


def fan_out_follow_up(
    conn: sqlite3.Connection, outbound_id: int, kind: AlertKind, reply_to: str, stamp: str
) -> int:
    """Silent deliveries of a follow-up to the chats that were sent the episode's first alert.

    A chat that joined later, or whose copy of the first alert was dropped or given up on,
    never saw the beginning, so gets no reply to it; a chat whose setting for ``kind`` is
    ``off`` gets nothing.
    """
    setting = SETTING_FOR[kind]  # a fixed column name, never user input
    cursor = conn.execute(
        "INSERT INTO deliveries (outbound_id, chat_id, thread_id, silent, status, "
        "next_attempt_at, created_at) "
        "SELECT ?, c.chat_id, c.thread_id, 1, 'pending', ?, ? FROM chats c "
        "JOIN deliveries first ON first.chat_id = c.chat_id "
        "JOIN outbound opening ON opening.id = first.outbound_id AND opening.key = ? "
        f"WHERE c.active = 1 AND c.{setting} != 'off' "
        "AND first.status IN ('pending', 'sending', 'sent') "
        "ON CONFLICT (outbound_id, chat_id) DO NOTHING",
        (outbound_id, stamp, stamp, reply_to),
    )
    return int(cursor.rowcount)


def fan_out_digest(conn: sqlite3.Connection, outbound_id: int, stamp: str) -> int:
    """One pending, silent delivery per active chat that asked for the daily digest."""
    cursor = conn.execute(
        "INSERT INTO deliveries (outbound_id, chat_id, thread_id, silent, status, "
        "next_attempt_at, created_at) "
        "SELECT ?, chat_id, thread_id, 1, 'pending', ?, ? FROM chats "
        "WHERE active = 1 AND digest = 1 "
        "ON CONFLICT (outbound_id, chat_id) DO NOTHING",
        (outbound_id, stamp, stamp),
    )
    return int(cursor.rowcount)


def deliver_to(
    conn: sqlite3.Connection, outbound_id: int, chat_ids: Sequence[int], stamp: str
) -> int:
    """Pending deliveries to named chats (admins' private chats), subscribed or not."""
    cursor = conn.executemany(
        "INSERT INTO deliveries (outbound_id, chat_id, silent, status, next_attempt_at, "
        "created_at) VALUES (?, ?, 0, 'pending', ?, ?) ON CONFLICT (outbound_id, chat_id) "
        "DO NOTHING",
        [(outbound_id, chat_id, stamp, stamp) for chat_id in chat_ids],
    )
    return int(cursor.rowcount)


def drop_chat(conn: sqlite3.Connection, chat_id: int, reason: str) -> int:
    """Whatever waits for a chat that is gone is dropped with the reason: said, never lost."""
    cursor = conn.execute(
        "UPDATE deliveries SET status = 'dropped', last_error = ? "
        "WHERE chat_id = ? AND status IN ('pending', 'sending')",
        (f"chat deactivated: {reason}", chat_id),
    )
    return int(cursor.rowcount)


def move_chat(conn: sqlite3.Connection, old_id: int, new_id: int) -> int:
    """Open deliveries follow a group to its new supergroup id, merged with the new id's own.

    A delivery the new id already has (both ids were subscribed) is dropped as merged: left
    on the old id it would be sent there, answered "migrated" and retried for ever. Returns
    how many were merged.
    """
    merged = conn.execute(
        "UPDATE deliveries SET status = 'dropped', last_error = ? "
        "WHERE chat_id = ? AND status IN ('pending', 'sending') AND EXISTS ("
        "SELECT 1 FROM deliveries n WHERE n.chat_id = ? "
        "AND n.outbound_id = deliveries.outbound_id)",
        (f"merged: chat migrated to {new_id}", old_id, new_id),
    ).rowcount
    conn.execute(
        "UPDATE deliveries SET chat_id = ? WHERE chat_id = ? AND status IN ('pending', 'sending')",
        (new_id, old_id),
    )
    return int(merged)


def _next_whole_second(at: datetime) -> datetime:
    """``at`` rounded up to a whole second, as the store keeps them.

    Truncating instead would make a retry (a 429's ``retry_after`` above all) fall due
    before the time it was given.
    """
    return at if at.microsecond == 0 else at.replace(microsecond=0) + timedelta(seconds=1)
