"""Messages and tables as plain text, for the terminal, CSV files and logs.

The Telegram renderer (:mod:`bot.tg.formatting`) lays out the same :class:`Message` in HTML;
both align tables with :func:`table_lines`, so a table reads the same in both.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.message import Message, Table

__all__ = ["render_text", "table_lines", "text_table"]


def render_text(message: Message) -> str:
    """Plain text for a terminal: title, lead, facts, tables, notes, footer."""
    lines = [message.title, message.lead]
    if message.facts:
        lines.append("")
        width = max(len(label) for label, _ in message.facts)
        lines.extend(f"{label.ljust(width)}  {value}" for label, value in message.facts)
    for table in message.tables:
        lines.append("")
        if table.caption:
            lines.append(table.caption)
        lines.extend(table_lines(table))
    if message.notes:
        lines.append("")
        lines.extend(f"! {note}" for note in message.notes)
    if message.footer:
        lines.extend(["", message.footer])
    return "\n".join(lines)


def table_lines(table: Table) -> list[str]:
    """The table's header and rows padded into columns, numbers right-aligned.

    Shared by every renderer so a table reads the same in the terminal and in Telegram.
    """
    widths = _widths(table)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in table.right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(table.headers), *(line(row) for row in table.rows)]


def text_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()
) -> str:
    """A terminal table: the header, a rule of dashes under each column, the rows."""
    table = Table("", tuple(headers), tuple(tuple(row) for row in rows), tuple(right))
    header, *body = table_lines(table)
    rule = "  ".join("-" * width for width in _widths(table))
    return "\n".join([header, rule, *body])


def _widths(table: Table) -> list[int]:
    widths = [len(h) for h in table.headers]
    for row in table.rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    return widths
