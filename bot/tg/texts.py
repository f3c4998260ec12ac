"""Fixed texts of the bot: command menu, usage lines, help and about."""

from __future__ import annotations

from bot.config import Config
from bot.tg.formatting import escape

__all__ = ["COMMANDS", "HELP", "USAGE", "about_text", "help_text"]

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


HELP = (
    "I watch how tightly Bitcoin moves with US small-cap tech stocks and tell you when that "
    "link spikes or changes regime. Commands:"
)


def about_text(config: Config) -> str:
    """The method and data sources in plain words, for this configuration (HTML)."""
    equities = ", ".join(
        escape(f"{e.symbol} ({e.label})" if e.label else e.symbol) for e in config.universe.equities
    )
    crypto = ", ".join(escape(c.symbol) for c in config.universe.crypto)
    windows = " and ".join(str(w) for w in config.analysis.windows)
    low, mid, high = (f"{edge:g}" for edge in config.alerts.regime.edges)
    return (
        "<b>How corrbot measures the link</b>\n"
        f"Every NYSE trading day I take the closing prices of {equities}, and the price of "
        f"{crypto} at that same close, then log returns from one session to the next (a "
        "weekend's crypto move lands on Monday).\n\n"
        f"The correlation of those returns over the last {windows} sessions puts each pair in "
        f"a regime: inverse (below {low}), decoupled (to {mid}), linked (to {high}), coupled "
        f"({high} and up). A regime change must hold for "
        f"{config.alerts.regime.confirm_sessions} sessions before I announce it; a spike is a "
        "jump against the previous window that is both significant and large.\n\n"
        "Correlation rises when markets are volatile, so every alert shows volatility next to "
        "its usual level. Why it matters: in January 2025 JPMorgan found crypto correlates most "
        "with small-cap tech, more for Bitcoin than for altcoins, peaking when tech is "
        "re-priced.\n\n"
        f"<i>Data: crypto from {escape(config.data.crypto_source)}, equities from "
        f"{escape(config.data.equity_source)}. Not investment advice.</i>"
    )
