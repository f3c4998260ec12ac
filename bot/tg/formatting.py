"""Telegram HTML rendering of :class:`~bot.core.message.Message`, and message splitting.

Telegram's HTML parse mode knows only a handful of tags (``b``, ``i``, ``u``, ``s``,
``code``, ``pre``, ``a``, ``blockquote``, ``tg-spoiler``) and rejects the whole message when
a ``<``, ``>`` or ``&`` is left unescaped or a tag is left open. So every user-visible piece
of text goes through :func:`~bot.present.markup.escape` here.

Telegram also rejects a message longer than 4096 characters (UTF-16 code units, counted
after entity parsing). :func:`split_html` cuts longer HTML into chunks that each fit, counted
conservatively on the HTML itself, and keeps every chunk well formed by closing the tags
still open at a cut and re-opening them in the next chunk.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.message import Message, Table
from bot.present.markup import escape
from bot.present.plain import table_lines

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "render_html",
    "render_html_chunks",
    "split_html",
    "utf16_len",
]

#: Telegram's limit on a message's text, in UTF-16 code units.
MAX_MESSAGE_LENGTH = 4096

NOTE_MARK = "⚠️ "


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, how Telegram counts: astral characters count twice."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------- rendering


def render_html(message: Message) -> str:
    """The message in Telegram HTML: bold title, lead, facts, tables in ``<pre>``, footer.

    Blocks are separated by blank lines, which :func:`split_html` prefers as cut points.
    """
    head = [f"<b>{escape(message.title)}</b>"] if message.title else []
    if message.lead:
        head.append(escape(message.lead))
    blocks = ["\n".join(head)] if head else []
    if message.facts:
        blocks.append(
            "\n".join(f"<b>{escape(label)}</b>: {escape(value)}" for label, value in message.facts)
        )
    blocks.extend(_html_table(table) for table in message.tables)
    if message.notes:
        blocks.append("\n".join(f"{NOTE_MARK}{escape(note)}" for note in message.notes))
    if message.footer:
        blocks.append(f"<i>{escape(message.footer)}</i>")
    return "\n\n".join(blocks)


def render_html_chunks(message: Message, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """:func:`render_html` split into chunks Telegram accepts, to send in order."""
    return split_html(render_html(message), limit)


def _html_table(table: Table) -> str:
    """An optional italic caption, then the table fixed-width inside ``<pre>``.

    Columns are aligned on the raw text (what the reader sees) and escaped afterwards, since
    escaping changes lengths; number columns align right as in the plain-text renderer.
    """
    body = "\n".join(escape(line) for line in table_lines(table))
    pre = f"<pre>{body}</pre>"
    return f"<i>{escape(table.caption)}</i>\n{pre}" if table.caption else pre


# --------------------------------------------------------------------------- splitting

#: A tag, an entity, or any single character: the atoms a cut may fall between.
_ATOM = re.compile(r"<[^<>]*>|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);|.", re.S)
_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)")


@dataclass(frozen=True, slots=True)
class _Open:
    """An open tag: its name (to close it) and its exact text (to re-open it)."""

    name: str
    text: str


_Stack = tuple[_Open, ...]


def _after(stack: _Stack, atom: str) -> _Stack:
    """The open tags after ``atom``: pushed when it opens a tag, popped when it closes one."""
    match = _TAG.match(atom) if atom.startswith("<") and atom.endswith(">") else None
    if match is None:
        return stack
    closing, name = match.group(1), match.group(2).lower()
    if not closing:
        return (*stack, _Open(name, atom))
    for index in range(len(stack) - 1, -1, -1):
        if stack[index].name == name:
            return stack[:index] + stack[index + 1 :]
    return stack  # a stray closing tag: left as it is, nothing to track


def _reopen(stack: _Stack) -> str:
    return "".join(tag.text for tag in stack)


def _close(stack: _Stack) -> str:
    return "".join(f"</{tag.name}>" for tag in reversed(stack))


@dataclass(frozen=True, slots=True)
class _Line:
    """One line of the HTML, with the tags open before and after it."""

    atoms: tuple[str, ...]
    text: str
    before: _Stack
    after: _Stack

    @property
    def blank(self) -> bool:
        """Whether the line shows nothing: a block boundary, and dropped at a cut."""
        return not self.text.strip()


def _lines(text: str) -> list[_Line]:
    """The text cut at newlines outside tags, tracking which tags are open across lines."""
    lines: list[_Line] = []
    atoms: list[str] = []
    stack: _Stack = ()
    before = stack
    for atom in _ATOM.findall(text):
        if atom == "\n":
            lines.append(_Line(tuple(atoms), "".join(atoms), before, stack))
            atoms, before = [], stack
            continue
        atoms.append(atom)
        stack = _after(stack, atom)
    lines.append(_Line(tuple(atoms), "".join(atoms), before, stack))
    return lines


def _visible(chunk: str) -> bool:
    """Whether a chunk shows anything: Telegram refuses a message that is empty once parsed."""
    return bool(re.sub(r"<[^<>]*>", "", chunk).strip())


def split_html(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """Telegram HTML cut into chunks of at most ``limit`` UTF-16 code units each.

    Cuts fall on line boundaries, preferably at a blank line (a block boundary) when that
    leaves the chunk at least half full; only a line that cannot fit alone is cut inside,
    at a space when possible, never inside a tag or an entity. Tags open at a cut (a
    ``<pre>`` table split in two) are closed at the end of the chunk and re-opened at the
    start of the next, so every chunk parses on its own. The newlines at the cuts are all
    that is lost; chunks showing nothing are dropped. Raises ``ValueError`` when ``limit``
    cannot hold even a single tag or character with the tags around it.
    """
    if utf16_len(text) <= limit:
        return [text] if _visible(text) else []
    lines = _lines(text)
    ends = list(itertools.accumulate((utf16_len(line.text) + 1 for line in lines), initial=0))
    chunks: list[str] = []

    def body_size(first: int, end: int) -> int:
        """Size of lines ``first`` up to (not including) ``end`` joined by newlines."""
        return ends[end] - ends[first] - 1

    def fits(first: int, last: int) -> bool:
        """Whether lines ``first..last`` with their re-opened and closed tags fit."""
        wrap = utf16_len(_reopen(lines[first].before) + _close(lines[last].after))
        return body_size(first, last + 1) + wrap <= limit

    def emit(first: int, last: int) -> None:
        while first <= last and lines[first].blank:
            first += 1
        while last >= first and lines[last].blank:
            last -= 1
        if first > last:
            return
        body = "\n".join(line.text for line in lines[first : last + 1])
        chunk = _reopen(lines[first].before) + body + _close(lines[last].after)
        if _visible(chunk):
            chunks.append(chunk)

    start, index, blank = 0, 0, -1
    while index < len(lines):
        if fits(start, index):
            if lines[index].blank and index > start:
                blank = index
            index += 1
            continue
        if index == start:  # one line too long on its own: the last resort
            chunks.extend(c for c in _hard_split(lines[index], limit) if _visible(c))
            start = index + 1
        elif blank > start and body_size(start, blank) >= limit // 2:
            emit(start, blank - 1)
            start = blank + 1
        else:
            emit(start, index - 1)
            start = index
        index, blank = start, -1
    emit(start, len(lines) - 1)
    return chunks


def _hard_split(line: _Line, limit: int) -> list[str]:
    """One over-long line cut between atoms, preferably after a space, re-wrapping tags."""
    pieces: list[str] = []
    opened = line.before  # the tags open where the current piece starts
    piece: list[tuple[str, _Stack]] = []  # its atoms, each with the tags open after it
    body = 0  # the size of the piece's atoms
    head = utf16_len(_reopen(opened))
    tails: dict[_Stack, int] = {}  # closing tags' sizes, asked for once per atom

    def size(atom: str, after: _Stack) -> int:
        if after not in tails:
            tails[after] = utf16_len(_close(after))
        return head + body + utf16_len(atom) + tails[after]

    def cut(count: int) -> None:
        nonlocal piece, opened, body, head
        taken, piece = piece[:count], piece[count:]
        closed = taken[-1][1]
        pieces.append(_reopen(opened) + "".join(a for a, _ in taken) + _close(closed))
        opened = closed
        body = sum(utf16_len(a) for a, _ in piece)
        head = utf16_len(_reopen(opened))

    stack = line.before
    for atom in line.atoms:
        after = _after(stack, atom)
        if piece and size(atom, after) > limit:
            cut(_cut_point(piece, limit))
            if piece and size(atom, after) > limit:
                cut(len(piece))
        if size(atom, after) > limit:
            raise ValueError(f"a limit of {limit} cannot hold {atom!r} with its open tags")
        piece.append((atom, after))
        body += utf16_len(atom)
        stack = after
    if piece:
        cut(len(piece))
    return pieces


def _cut_point(piece: Sequence[tuple[str, _Stack]], limit: int) -> int:
    """How many atoms to keep: up to the last space if that keeps half, else all of them."""
    kept, best = 0, len(piece)
    for count, (atom, _) in enumerate(piece, start=1):
        kept += utf16_len(atom)
        if atom.isspace() and kept >= limit // 2:
            best = count
    return best
