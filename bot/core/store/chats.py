"""Subscribed chats and their settings: the ``chats`` table.

Unsubscribing or being blocked deactivates a chat instead of deleting it, so a returning
user finds the settings they chose. A group that Telegram migrates to a supergroup keeps
its subscription under the new id.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from bot.core.store.database import Database
from bot.core.store.outbox import drop_chat, move_chat
from bot.core.store.timestamps import format_ts

__all__ = ["Chat", "Level", "Subscribers"]


class Level(enum.StrEnum):
    """How a kind of alert reaches a chat: with a notification, silently, or not at all."""

    ON = "on"
    SILENT = "silent"
    OFF = "off"


@dataclass(frozen=True, slots=True)
class Chat:
    """A chat the bot knows, subscribed or not."""

    chat_id: int
    kind: str
    title: str
    active: bool
    spikes: Level = Level.ON
    regimes: Level = Level.ON
    digest: bool = False
    thread_id: int | None = None
    deactivated_reason: str | None = None


_COLUMNS = "chat_id, kind, title, active, spikes, regimes, digest, thread_id, deactivated_reason"


def _chat(row: tuple[object, ...]) -> Chat:
    chat_id, kind, title, active, spikes, regimes, digest, thread_id, reason = row
    return Chat(
        chat_id=int(str(chat_id)),
        kind=str(kind),
        title=str(title),
        active=bool(active),
        spikes=Level(str(spikes)),
        regimes=Level(str(regimes)),
        digest=bool(digest),
        thread_id=None if thread_id is None else int(str(thread_id)),
        deactivated_reason=None if reason is None else str(reason),
    )


class Subscribers:
    """Reads and writes the ``chats`` table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def get(self, chat_id: int) -> Chat | None:
        """The chat, subscribed or not, or ``None`` if never seen."""
        rows = self._db.query(f"SELECT {_COLUMNS} FROM chats WHERE chat_id = ?", [chat_id])
        return _chat(rows[0]) if rows else None

    def subscribe(
        self, chat_id: int, *, kind: str, title: str, thread_id: int | None, now: datetime
    ) -> bool:
        """Activate the chat (keeping earlier settings); returns whether it was inactive."""
        stamp = format_ts(now)
        before = self.get(chat_id)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO chats (chat_id, kind, title, thread_id, active, subscribed_at, "
                "updated_at) VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET "
                "kind = excluded.kind, title = excluded.title, thread_id = excluded.thread_id, "
                "active = 1, deactivated_reason = NULL, subscribed_at = excluded.subscribed_at, "
                "updated_at = excluded.updated_at",
                (chat_id, kind, title, thread_id, stamp, stamp),
            )
        return before is None or not before.active

    def deactivate(self, chat_id: int, *, reason: str, now: datetime) -> bool:
        """Stop sending to the chat, keeping its settings; returns whether it was active."""
        stamp = format_ts(now)
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE chats SET active = 0, deactivated_reason = ?, unsubscribed_at = ?, "
                "updated_at = ? WHERE chat_id = ? AND active = 1",
                (reason, stamp, stamp, chat_id),
            )
            drop_chat(conn, chat_id, reason)
        return cursor.rowcount == 1

    def migrate(self, old_id: int, new_id: int, *, now: datetime) -> int:
        """Move a subscription (and its pending deliveries) to a group's new supergroup id.

        When both ids are subscribed, the two chats' deliveries merge: each open delivery
        moves to the new id unless the new id already has one of the same message, in
        which case the old one is dropped as merged (left on the old id it would be sent
        there, answered "migrated" and retried for ever). Returns how many were merged.
        """
        stamp = format_ts(now)
        with self._db.transaction() as conn:
            exists = conn.execute("SELECT 1 FROM chats WHERE chat_id = ?", (new_id,)).fetchone()
            if exists:
                conn.execute("DELETE FROM chats WHERE chat_id = ?", (old_id,))
            else:
                conn.execute(
                    "UPDATE chats SET chat_id = ?, kind = 'supergroup', updated_at = ? "
                    "WHERE chat_id = ?",
                    (new_id, stamp, old_id),
                )
            return move_chat(conn, old_id, new_id)

    def update_settings(
        self,
        chat_id: int,
        *,
        spikes: Level | None = None,
        regimes: Level | None = None,
        digest: bool | None = None,
        now: datetime,
    ) -> Chat | None:
        """Change some settings of a known chat; returns the chat after the change."""
        changes: list[tuple[str, object]] = []
        if spikes is not None:
            changes.append(("spikes", spikes.value))
        if regimes is not None:
            changes.append(("regimes", regimes.value))
        if digest is not None:
            changes.append(("digest", int(digest)))
        if changes:
            assignments = ", ".join(f"{column} = ?" for column, _ in changes)
            with self._db.transaction() as conn:
                conn.execute(
                    f"UPDATE chats SET {assignments}, updated_at = ? WHERE chat_id = ?",
                    (*[value for _, value in changes], format_ts(now), chat_id),
                )
        return self.get(chat_id)

    def count_active(self) -> int:
        """How many chats receive alerts."""
        return int(str(self._db.query("SELECT COUNT(*) FROM chats WHERE active = 1")[0][0]))
