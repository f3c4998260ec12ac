"""Messages as plain text (bot.present.plain)."""

from __future__ import annotations

from dataclasses import replace

from bot.present.alerts import alert_message
from bot.present.plain import render_text
from tests.fakes.messages import FOOTER, SPIKE
from tests.fakes.messages import hand_made_snapshot as _context


def test_render_text_of_an_alert_lays_out_every_part() -> None:
    """Title, lead, aligned facts, captioned tables, notes and footer, in that order."""
    message = alert_message(
        replace(SPIKE, corr=0.45, lower=0.10, upper=0.70), _context({"PSCT": (0.60, 0.25)})
    )
    lines = render_text(message).split("\n")
    assert lines[0] == "BTC is moving with PSCT"
    assert lines[1] == message.lead
    assert lines[2] == ""
    width = len("Correlation (30 sessions)")
    assert lines[3] == f"{'Correlation (30 sessions)'.ljust(width)}  0.45 (95%: 0.10 to 0.70)"
    assert (
        lines[4] == f"{'Compared with'.ljust(width)}  0.21 (95%: 0.09 to 0.33) over the year before"
    )
    labels = [line[:width].rstrip() for line in lines[3:12]]
    assert labels == [
        "Correlation (30 sessions)",
        "Compared with",
        "Test",
        "Regime",
        "Rank (Spearman)",
        "At usual volatility",
        "Volatility",
        "Leading equity",
        "BTC vs ETH",
    ]
    rest = lines[12:]
    assert rest[:3] == ["", "BTC against each equity", "vs      30d  95%"]
    assert rest[3].startswith("PSCT   0.72  0.49 to 0.86")
    caption = rest.index("Each crypto against PSCT")
    assert rest[caption + 1] == "crypto   30d  95%"
    assert rest[-3].startswith("! PSCT (US small-cap tech) is 2.4x as volatile as usual")
    assert rest[-2:] == ["", FOOTER]
