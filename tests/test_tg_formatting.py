"""Telegram HTML rendering and splitting: always escaped, always balanced, never too long.

Telegram's own parser is not reachable offline, so :func:`tests.fakes.messages.visible` is the
oracle: it checks what Telegram checks (only its tags, balanced; no stray ``<``, ``>`` or ``&``;
only the entities it knows) and returns the text a reader would see. The ``/alerts`` list is
tested with its module, in ``test_present_alerts``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.message import Message, Table
from bot.present.alerts import alert_message
from bot.present.corr import snapshot_message
from bot.present.markup import escape
from bot.present.plain import render_text
from bot.tg.formatting import (
    MAX_MESSAGE_LENGTH,
    render_html,
    render_html_chunks,
    split_html,
    utf16_len,
)
from tests.fakes.messages import EVERY_KIND, NASTY, visible
from tests.fakes.messages import STORED_EPISODE as EPISODE
from tests.fakes.messages import hand_made_snapshot as _context
from tests.fakes.messages import stored_alert as _alert


def assert_pieces(original: str, chunks: Sequence[str], gap: str = r"\n*") -> None:
    """The chunks' visible texts make up ``original``, only ``gap`` lost between them."""
    parts = [visible(chunk) for chunk in chunks]
    pattern = gap.join(re.escape(part) for part in parts)
    assert re.fullmatch(gap + pattern + gap, visible(original)), "visible text changed"


def assert_chunks(chunks: Sequence[str], limit: int = MAX_MESSAGE_LENGTH) -> None:
    """Every chunk fits, is valid Telegram HTML and shows something."""
    assert chunks
    for chunk in chunks:
        assert utf16_len(chunk) <= limit
        assert visible(chunk).strip()


def _message(**parts: object) -> Message:
    base: dict[str, object] = {
        "title": "BTC~PSCT regime change",
        "lead": "BTC is trading as a tech proxy.",
        "facts": (("Change", "+0.25 (z +3.1)"), ("Regime", "linked → coupled")),
        "tables": (
            Table(
                "BTC against each equity",
                ("vs", "30d", "90d"),
                (("PSCT", "0.59", "0.41"), ("QQQ", "-0.05", "0.12"), ("IWM", "n/a", "-0.33")),
                (1, 2),
            ),
        ),
        "footer": "Data as of the 2024-08-26 NYSE close.",
        "notes": ("Volatility is elevated.",),
    }
    base.update(parts)
    return Message(**base)  # type: ignore[arg-type]


def _pre_blocks(markup: str) -> list[str]:
    return [html.unescape(block) for block in re.findall(r"<pre>(.*?)</pre>", markup, re.S)]


# --------------------------------------------------------------------------- rendering


@pytest.mark.parametrize(
    "parts",
    [
        {"title": NASTY},
        {"lead": NASTY},
        {"facts": ((NASTY, "1"),)},
        {"facts": (("Label", NASTY),)},
        {"tables": (Table(NASTY, ("vs", "30d"), (("x", "1"),), (1,)),)},
        {"tables": (Table("", (NASTY, "30d"), (("x", "1"),), (1,)),)},
        {"tables": (Table("", ("vs", "30d"), ((NASTY, "1"),), (1,)),)},
        {"notes": (NASTY,)},
        {"footer": NASTY},
    ],
    ids=["title", "lead", "label", "value", "caption", "header", "cell", "note", "footer"],
)
def test_every_part_is_escaped(parts: dict[str, object]) -> None:
    """``<``, ``>`` and ``&`` in any part survive as text and never become markup."""
    markup = render_html(_message(**parts))
    assert NASTY in visible(markup)


def test_escape_matches_python_telegram_bot() -> None:
    """The re-exported ``escape`` agrees with PTB's helper (without quoting quotes)."""
    helpers = pytest.importorskip("telegram.helpers")
    for text in (NASTY, 'say "hi" & <b>', "😀 &#x27; ~ -1"):
        assert escape(text) == helpers.escape(text, quote=False)
        assert visible(escape(text)) == text


def test_limit_matches_python_telegram_bot() -> None:
    """The default limit is Telegram's, as PTB knows it."""
    constants = pytest.importorskip("telegram.constants")
    assert constants.MessageLimit.MAX_TEXT_LENGTH == MAX_MESSAGE_LENGTH


def test_layout_title_lead_facts_notes_footer() -> None:
    """Bold title, lead, bold labels, warning notes and italic footer, blocks apart."""
    markup = render_html(_message(tables=()))
    assert markup == (
        "<b>BTC~PSCT regime change</b>\n"
        "BTC is trading as a tech proxy.\n"
        "\n"
        "<b>Change</b>: +0.25 (z +3.1)\n"
        "<b>Regime</b>: linked → coupled\n"
        "\n"
        "⚠️ Volatility is elevated.\n"
        "\n"
        "<i>Data as of the 2024-08-26 NYSE close.</i>"
    )


def test_tables_sit_in_pre_aligned_like_plain_text() -> None:
    """Each table is one ``<pre>`` block whose lines are those of the plain-text renderer."""
    message = _message()
    (block,) = _pre_blocks(render_html(message))
    assert block.splitlines() == [
        "vs      30d    90d",
        "PSCT   0.59   0.41",
        "QQQ   -0.05   0.12",
        "IWM     n/a  -0.33",
    ]
    assert block in render_text(message)


def test_table_alignment_ignores_escaping() -> None:
    """Columns align on what the reader sees, not on the longer escaped HTML."""
    table = Table("", ("vs", "1d"), (("S&P", "-0.10"), ("A<B>C", "0.20")), (1,))
    (block,) = _pre_blocks(render_html(_message(tables=(table,))))
    assert block.splitlines() == ["vs        1d", "S&P    -0.10", "A<B>C   0.20"]


def test_negative_numbers_render_as_is() -> None:
    """Minus signs are plain text, in facts and in right-aligned table cells."""
    markup = render_html(_message(facts=(("Change", "-0.25 (z -3.1)"),)))
    assert "<b>Change</b>: -0.25 (z -3.1)" in markup
    assert "QQQ   -0.05   0.12\nIWM     n/a  -0.33</pre>" in markup


def test_caption_is_italic_and_optional() -> None:
    """A caption is an italic line right above its table; none means no empty line."""
    table = Table("", ("vs", "1d"), (("x", "1"),), (1,))
    captioned = render_html(_message(tables=(table, replace(table, caption="Cap"))))
    assert "\n\n<pre>vs  1d\nx    1</pre>\n\n<i>Cap</i>\n<pre>vs  1d" in captioned


def test_alert_message_renders_to_valid_html() -> None:
    """A real alert message from the core renders to HTML Telegram accepts."""
    alert = _alert(prev_corr=-0.12, prev_lower=-0.24, notify=False, episode=EPISODE).alert
    markup = render_html(alert_message(alert, None))
    assert "-0.12 (95%: -0.24 to 0.45) when the episode began on 2024-08-01" in visible(markup)
    assert markup.startswith("<b>Follow-up: BTC~PSCT now coupled (linked → coupled)</b>\n")


@pytest.mark.parametrize("name", list(EVERY_KIND))
@pytest.mark.parametrize("label", ["US small-cap tech", NASTY])
def test_every_alert_kind_renders_to_valid_html(name: str, label: str) -> None:
    """Every kind, pushed or a follow-up, with every fact, table and note, is valid HTML."""
    context = _context({"PSCT": (0.60, 0.25)}, {"PSCT": label}, sessions={("BTC", "PSCT", 30): 27})
    message = alert_message(EVERY_KIND[name], context)
    assert message.notes
    markup = render_html(message)
    text = visible(markup)
    assert text.startswith(message.title)
    assert "95%" in text
    assert render_text(message).splitlines()[0] == text.splitlines()[0]
    assert_chunks(render_html_chunks(message))


def test_corr_reply_renders_to_valid_html() -> None:
    """The /corr message, tests and notes included, is valid HTML in one chunk."""
    message = snapshot_message(_context({"PSCT": (0.60, 0.25)}, {"PSCT": NASTY}))
    [chunk] = render_html_chunks(message)
    text = visible(chunk)
    assert "Leading equity: PSCT - S&P <500>" in text
    assert "statistically tied (Williams' test p=0.55)" in text


def test_empty_parts_leave_no_empty_tags() -> None:
    """A message with only a title gives just the bold title."""
    assert render_html(Message(title="T&T", lead="")) == "<b>T&amp;T</b>"


# --------------------------------------------------------------------------- splitting


def test_short_text_is_one_chunk() -> None:
    """Text within the limit comes back unchanged, as a single chunk."""
    markup = render_html(_message())
    assert split_html(markup) == [markup]


def test_long_message_splits_into_valid_chunks() -> None:
    """A message far over 4096 units splits into valid chunks losing only line breaks."""
    rows = tuple((f"SYM{i}&<{i}>", f"{-i / 1000:.2f}", f"{i / 1000:.2f}") for i in range(400))
    big = Table("Every <equity> & more", ("vs", "30d", "90d"), rows, (1, 2))
    facts = tuple((f"Fact {i} <&>", f"-{i}.00 ~ 😀") for i in range(60))
    message = _message(facts=facts, tables=(big, big), notes=("note & <n>",) * 50)
    markup = render_html(message)
    assert utf16_len(markup) > 3 * MAX_MESSAGE_LENGTH
    chunks = render_html_chunks(message)
    assert len(chunks) > 3
    assert_chunks(chunks)
    assert_pieces(markup, chunks)


def test_split_prefers_blank_lines() -> None:
    """A chunk ends at a blank line rather than at a later single line break."""
    text = "A" * 60 + "\n\n" + "B" * 30 + "\n" + "C" * 30
    assert split_html(text, limit=100) == ["A" * 60, "B" * 30 + "\n" + "C" * 30]


def test_split_takes_a_line_break_over_an_early_blank_line() -> None:
    """A blank line that would leave a nearly empty chunk does not win over a full one."""
    text = "A" * 10 + "\n\n" + "B" * 50 + "\n" + "C" * 50
    assert split_html(text, limit=100) == ["A" * 10 + "\n\n" + "B" * 50, "C" * 50]


def test_pre_cut_in_two_is_closed_and_reopened() -> None:
    """A table cut mid-way ends its chunk with ``</pre>`` and starts the next with ``<pre>``."""
    body = "\n".join(f"row {i:03d}  -0.{i:02d}" for i in range(100))
    text = f"<b>Title</b>\n\n<pre>{body}</pre>"
    chunks = split_html(text, limit=500)
    assert len(chunks) > 2
    assert_chunks(chunks, 500)
    assert all(c.endswith("</pre>") for c in chunks[1:])
    assert all(c.startswith("<pre>row") for c in chunks[1:])
    assert "\n".join(block for c in chunks for block in _pre_blocks(c)) == body
    assert_pieces(text, chunks)


def test_nested_tags_and_links_are_reopened_in_order() -> None:
    """Open ``<blockquote><b>`` and a PTB mention link close and re-open as a whole."""
    helpers = pytest.importorskip("telegram.helpers")
    link = helpers.mention_html(42, "A&B <x>")
    lines = "\n".join(f"line {i} {link} &amp;" for i in range(20))
    text = f"<blockquote><b>{lines}</b></blockquote>"
    chunks = split_html(text, limit=300)
    assert len(chunks) > 1
    assert_chunks(chunks, 300)
    assert all(c.startswith("<blockquote><b>line") for c in chunks)
    assert all(c.endswith("&amp;</b></blockquote>") for c in chunks)
    assert_pieces(text, chunks)


def test_link_cut_inside_keeps_its_href() -> None:
    """A link cut inside its text is re-opened with its original ``href``."""
    text = '<a href="tg://user?id=7">' + "word " * 100 + "</a>"
    chunks = split_html(text, limit=120)
    assert_chunks(chunks, 120)
    assert all(c.startswith('<a href="tg://user?id=7">') and c.endswith("</a>") for c in chunks)
    assert_pieces(text, chunks, gap="")


def test_astral_characters_count_as_two_units() -> None:
    """Emoji outside the BMP count twice, so chunks hold half as many of them."""
    assert utf16_len("😀") == 2
    assert utf16_len("⚠️ a") == 4
    lines = "\n".join("😀" * 30 for _ in range(40))
    chunks = split_html(lines, limit=200)
    assert_chunks(chunks, 200)
    assert all(len(c) <= 100 for c in chunks)
    assert max(utf16_len(c) for c in chunks) > 150
    assert_pieces(lines, chunks)


def test_huge_line_is_hard_split_between_entities() -> None:
    """One line over the limit is cut, but never inside ``&amp;`` or a tag."""
    text = "<i>" + "&amp;&lt;x" * 2000 + "</i>"
    chunks = split_html(text)
    assert len(chunks) == 5
    assert_chunks(chunks)
    for chunk in chunks:
        inner = chunk.removeprefix("<i>").removesuffix("</i>")
        assert re.fullmatch(r"(?:&amp;|&lt;|x)+", inner)
    assert_pieces(text, chunks, gap="")


def test_huge_line_is_cut_after_a_space() -> None:
    """A hard split prefers a space to cutting a word in half."""
    text = " ".join(f"word{i}" for i in range(2000))
    chunks = split_html(text)
    assert len(chunks) > 1
    assert_chunks(chunks)
    assert all(c.endswith(" ") for c in chunks[:-1])
    assert "".join(chunks) == text


def test_blank_only_text_gives_no_chunks() -> None:
    """Nothing to show means nothing to send: Telegram refuses empty messages."""
    assert split_html("\n\n  \n") == []
    assert split_html("<b></b>") == []


def test_no_chunk_is_only_tags_or_blank() -> None:
    """Cuts next to blank lines and empty tags never leave an empty chunk behind."""
    text = "\n\n".join(["<b></b>", "A" * 90, "", "<i>\n</i>", "B" * 90, "\n"])
    chunks = split_html(text, limit=100)
    assert chunks == ["<b></b>\n\n" + "A" * 90, "B" * 90]
    assert_chunks(chunks, 100)


def test_limit_too_small_for_the_open_tags_raises() -> None:
    """A limit that cannot hold one character with its tags is a caller error."""
    with pytest.raises(ValueError, match="cannot hold"):
        split_html("<blockquote>" + "x" * 50 + "</blockquote>", limit=20)


@settings(max_examples=150, deadline=None)
@given(
    words=st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=40),
    limit=st.integers(min_value=120, max_value=600),
)
def test_any_rendered_message_splits_validly(words: list[str], limit: int) -> None:
    """Any text in any part renders and splits into valid chunks that fit and lose nothing."""
    half = len(words) // 2
    rows = tuple((w, f"{-i / 7:.2f}") for i, w in enumerate(words))
    message = Message(
        title=words[0],
        lead=" ".join(words[:half]),
        facts=tuple((w, w[::-1]) for w in words[half:]),
        tables=(Table(words[-1], ("vs", "1d"), rows, (1,)),),
        notes=tuple(words[:3]),
        footer="\n".join(words[-3:]),
    )
    markup = render_html(message)
    chunks = render_html_chunks(message, limit)
    for chunk in chunks:
        assert utf16_len(chunk) <= limit
        visible(chunk)
    assert_pieces(markup, chunks, gap=r"\s*")
