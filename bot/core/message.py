"""What the bot says, as data: a title, a lead, facts, tables, notes and a footer.

The core decides what a message holds; renderers decide how it looks (plain text for the
terminal, HTML for Telegram), so numbers read the same everywhere. A message is JSON in
the outbox from the moment its alert is recorded until every chat has it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Protocol

from bot.core.models import Alert
from bot.core.snapshot import Snapshot

__all__ = ["Message", "Table", "Wording"]


@dataclass(frozen=True, slots=True)
class Table:
    """A small table; columns listed in ``right`` hold numbers and align right."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    right: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    """A title, a one-line lead (why it matters), labelled facts, tables and a footer."""

    title: str
    lead: str
    facts: tuple[tuple[str, str], ...] = ()
    tables: tuple[Table, ...] = ()
    footer: str = ""
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        """Serialize, so the outbox can hold a message until it is delivered."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Message:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(
            title=data["title"],
            lead=data["lead"],
            facts=tuple((label, value) for label, value in data["facts"]),
            tables=tuple(
                Table(
                    t["caption"],
                    tuple(t["headers"]),
                    tuple(tuple(row) for row in t["rows"]),
                    tuple(t["right"]),
                )
                for t in data["tables"]
            ),
            footer=data["footer"],
            notes=tuple(data["notes"]),
        )


class Wording(Protocol):
    """Turns what the core found into what subscribers read (see :mod:`bot.present`).

    The core records each alert with its message in one transaction, so it needs the words
    at that moment; it gets them through this seam, wired by the composition root, and never
    imports the presentation.
    """

    def alert(self, alert: Alert, context: Snapshot | None) -> Message:
        """The message announcing ``alert``, with the numbers of its session around it."""

    def digest(self, snapshot: Snapshot) -> Message:
        """The daily digest: the ``/corr`` reply of ``snapshot``."""
