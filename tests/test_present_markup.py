"""Text made safe for Telegram HTML (bot.present.markup)."""

from __future__ import annotations

import pytest

from bot.present.markup import escape
from tests.fakes.messages import NASTY, visible


def test_escape_turns_markup_characters_into_entities() -> None:
    """``&``, ``<`` and ``>`` become ``&amp;``, ``&lt;`` and ``&gt;``."""
    assert escape("S&P <500> BTC~PSCT -0.42") == "S&amp;P &lt;500&gt; BTC~PSCT -0.42"


def test_escape_leaves_quotes_alone() -> None:
    """Quotes are harmless in text, so they stay as they are (shorter messages)."""
    assert escape("say \"hi\" or 'bye'") == "say \"hi\" or 'bye'"


@pytest.mark.parametrize("text", [NASTY, "&amp; is how you write &", "<b>not bold</b>", "😀 ~ -1"])
def test_escaped_text_reads_as_typed(text: str) -> None:
    """Whatever the text, Telegram accepts it escaped and shows it exactly as typed."""
    assert visible(escape(text)) == text
