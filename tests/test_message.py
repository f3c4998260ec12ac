"""Messages as data: what the outbox holds survives JSON exactly, whatever it contains."""

from __future__ import annotations

from bot.core.message import Message, Table

FULL = Message(
    title="BTC~PSCT correlation spike",
    lead="Crypto is trading as a tech proxy: 0.62 (95%: 0.35 to 0.80).",
    facts=(("Now", "0.62 (95%: 0.35 to 0.80)"), ("Test", "z +3.4")),
    tables=(Table("Last 30 sessions", ("vs", "30d"), (("PSCT", "0.62"), ("QQQ", "-0.05")), (1,)),),
    footer="Data as of the 2024-08-05 NYSE close.",
    notes=("PSCT: 2 sessions of the last 30 without a price",),
)


def test_a_message_round_trips_through_json_exactly() -> None:
    """Title, lead, facts, tables (caption, headers, rows, right-aligned columns), notes, footer."""
    assert Message.from_json(FULL.to_json()) == FULL


def test_a_bare_message_round_trips_with_its_defaults() -> None:
    """A message with only a title and a lead reads back with no facts, tables or notes."""
    bare = Message(title="A delivery failed for good", lead="spike:BTC~PSCT to chat 7")
    assert Message.from_json(bare.to_json()) == bare


def test_text_outside_ascii_is_kept_as_written() -> None:
    """Arrows, the Greek rho and emoji reach the outbox unescaped and come back the same."""
    message = Message(title="linked → coupled", lead="ρ up ⚠️", footer="")  # noqa: RUF001 - the Greek letter on purpose
    text = message.to_json()
    assert "→" in text
    assert Message.from_json(text) == message
