"""Reading what the outbox holds, as a subscriber will read it."""

from __future__ import annotations

from bot.core.message import Message
from bot.core.store import Store
from bot.present.plain import render_text

__all__ = ["queued_text"]


def queued_text(store: Store, key: str) -> str:
    """The plain text of the message queued for ``key`` (an alert's key), as subscribers read it."""
    [(payload,)] = store.query("SELECT payload FROM outbound WHERE key = ?", [key])
    return render_text(Message.from_json(str(payload)))
