"""The SQL that turns one outbound message into one delivery row per eligible chat.

Kept apart from the store's connection handling so the fan-out rule (who receives what,
silently or not) reads in one place: a chat receives an alert unless its setting for that
kind of alert is ``off``; ``silent`` means delivered without a notification.
"""

from __future__ import annotations

import sqlite3

from bot.core.models import AlertKind
from bot.core.rules import SETTING_FOR

__all__ = ["deliver_to", "fan_out", "fan_out_digest", "fan_out_follow_up", "insert_outbound"]


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


def deliver_to(conn: sqlite3.Connection, outbound_id: int, chat_ids: list[int], stamp: str) -> int:
    """Pending deliveries to named chats (admins' private chats), subscribed or not."""
    cursor = conn.executemany(
        "INSERT INTO deliveries (outbound_id, chat_id, silent, status, next_attempt_at, "
        "created_at) VALUES (?, ?, 0, 'pending', ?, ?) ON CONFLICT (outbound_id, chat_id) "
        "DO NOTHING",
        [(outbound_id, chat_id, stamp, stamp) for chat_id in chat_ids],
    )
    return int(cursor.rowcount)
