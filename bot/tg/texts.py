"""Fixed texts of the bot: command menu, usage lines, help and about."""

from __future__ import annotations

import math

from bot.config import Config
from bot.core.messages import display_name, study_evidence
from bot.core.snapshot import Snapshot
from bot.tg.formatting import escape

__all__ = [
    "COMMANDS",
    "HELP",
    "SLOW_DOWN",
    "SLOW_DOWN_BUTTON",
    "STORE_BUSY",
    "STORE_FULL",
    "USAGE",
    "about_text",
    "help_text",
]

#: The command menu registered with set_my_commands (admin commands are not advertised).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("corr", "Latest correlations: crypto vs US equities"),
    ("chart", "Correlation chart"),
    ("alerts", "Recent alerts"),
    ("settings", "What this chat receives"),
    ("subscribe", "Receive alerts in this chat"),
    ("stop", "Stop alerts (settings are kept)"),
    ("help", "How to use the bot"),
    ("about", "Method and data sources"),
)

USAGE: dict[str, str] = {
    "start": "/start - subscribe this chat to alerts",
    "subscribe": "/subscribe - subscribe this chat to alerts",
    "stop": "/stop - stop alerts in this chat (your settings are kept)",
    "unsubscribe": "/unsubscribe - stop alerts in this chat (your settings are kept)",
    "corr": "/corr [SYMBOL] - latest correlations, e.g. /corr or /corr ETH",
    "chart": "/chart [WINDOW] - correlation chart, e.g. /chart or /chart 90",
    "alerts": "/alerts [N] - the last N alerts (1 to 20, default 5)",
    "settings": (
        "/settings - show and change what this chat receives\n"
        "/settings spikes on|silent|off\n/settings regimes on|silent|off\n"
        "/settings digest on|off"
    ),
    "help": "/help - how to use the bot",
    "about": "/about - method and data sources",
    "status": "/status - (admins) subscribers, last run, data freshness",
    "runnow": "/runnow - (admins) run the daily job now",
}


def help_text(admin: bool) -> str:
    """Every command with its usage; admin commands only for admins."""
    public = [name for name in USAGE if name not in {"status", "runnow", "unsubscribe"}]
    lines = [USAGE[name] for name in public]
    if admin:
        lines += [USAGE["status"], USAGE["runnow"]]
    return "\n".join(lines)


#: The one answer a chat gets when it sends commands faster than they are answered.
SLOW_DOWN = (
    "Slow down, please: I am still answering your earlier commands, so I skipped the newest "
    "ones. Send them again one at a time."
)
#: The toast for a button pressed while the chat's earlier presses are still being handled.
SLOW_DOWN_BUTTON = "Too many presses at once: press it again in a moment."
STORE_FULL = (
    "Sorry, I cannot save anything right now: the server's disk is full, so nothing was "
    "changed. Please try again later."
)
STORE_BUSY = "Sorry, I could not save that (my database is busy). Please try again in a minute."

HELP = (
    "I watch how tightly Bitcoin moves with US small-cap tech stocks and tell you when that "
    "link spikes or changes regime. Commands:"
)


def about_text(config: Config, snapshot: Snapshot | None = None) -> str:
    """The method, the study behind the bot and today's evidence on it, in plain words (HTML).

    The study's claims are not asserted: each is weighed against ``snapshot`` (the latest
    stored one) with the tests ``/corr`` uses, and said to be supported, contradicted or not
    settled. Without a snapshot yet, that is said plainly.
    """
    labels = config.labels
    equities = ", ".join(escape(display_name(e.symbol, labels)) for e in config.universe.equities)
    crypto = ", ".join(escape(c.symbol) for c in config.universe.crypto)
    window = config.analysis.headline_window
    shift = config.alerts.shift
    low, mid, high = (f"{edge:g}" for edge in config.alerts.regime.edges)
    if config.data.crypto_sampling == "equity_close":
        sampled = "at that same close"
    else:
        sampled = "at its daily close (00:00 UTC, 3 to 7 hours after the NYSE close)"
    method = (
        "<b>How corrbot measures the link</b>\n"
        f"Every NYSE trading day I take the closing prices of {equities}, and the price of "
        f"{crypto} {escape(sampled)}, then log returns from one session to the next (a "
        "weekend's crypto move lands on Monday). Every correlation I show comes with its 95% "
        "interval over the sessions it actually used.\n\n"
        f"I push an alert only when the co-movement over the last {window} sessions differs "
        f"from the {shift.baseline_sessions} sessions before beyond noise (|z| of "
        f"{shift.z:g} or more, a threshold calibrated on histories whose correlation never "
        "changes). What follows, the correlation reaching another band (inverse below "
        f"{low}, decoupled to {mid}, linked to {high}, coupled from {high}) or the change "
        "running its course, comes as a silent reply to that alert."
    )
    return "\n\n".join(
        [
            method,
            _study(config, snapshot),
            f"<i>Data: crypto from {escape(config.data.crypto_source)}, equities from "
            f"{escape(config.data.equity_source)}. Not investment advice.</i>",
        ]
    )


_VERDICT_MARK = {
    "supported": "evidence for",
    "contradicted": "evidence against",
    "not settled": "not settled",
}


def _study(config: Config, snapshot: Snapshot | None) -> str:
    """The study in two lines, then the live evidence for or against each of its claims."""
    window = config.analysis.headline_window
    intro = (
        "<b>The study, and what today's data says</b>\n"
        "In January 2025 JPMorgan's research team reported that crypto has moved with US "
        "equities since 2020, most with small-cap tech, more for Bitcoin than for altcoins, "
        "and most when tech is re-priced.\n"
        f"Over {window} sessions even a correlation near zero has a 95% interval of "
        f"±{math.tanh(1.96 / math.sqrt(window - 3)):.2f}, so I test each claim instead of "
        "repeating it (Williams' test for which of two correlations is higher)."
    )
    if snapshot is None:
        return (
            f"{intro}\n\nNo numbers yet: the evidence on each claim appears here after the "
            "first daily run."
        )
    lines = [f"{intro}\n\n<i>As of the {snapshot.as_of.isoformat()} NYSE close:</i>"]
    for claim in study_evidence(snapshot):
        verdict = escape(_VERDICT_MARK[claim.verdict])
        lines.append(f"\n<b>{escape(claim.claim)}</b>: {verdict}")
        lines.extend(f"- {escape(line)}" for line in claim.evidence)
    return "\n".join(lines)
