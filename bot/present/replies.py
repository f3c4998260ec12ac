"""What the bot answers in chats: the command menu, usage lines, help and every fixed reply.

Replies are Telegram HTML; anything that comes from outside (a chat title, a symbol typed
by a user) goes through :func:`~bot.present.markup.escape`. The numbers (``/corr``,
``/alerts``, ``/about``, ``/status``) have modules of their own beside this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from bot.core.models import Pair
from bot.core.store.chats import Chat
from bot.present.markup import escape

__all__ = [
    "ADMINS_ONLY",
    "BUTTON_ADMINS_ONLY",
    "BUTTON_NOT_APPLIED",
    "BUTTON_UNKNOWN",
    "COMMANDS",
    "EMPTY",
    "GROUP_SETTINGS_ADMINS_ONLY",
    "GROUP_SUBSCRIBE_ADMINS_ONLY",
    "GROUP_UNSUBSCRIBE_ADMINS_ONLY",
    "HELP",
    "NOT_SUBSCRIBED",
    "RUNNING_NOW",
    "SETTINGS_NEED_SUBSCRIPTION",
    "SETTING_CHOICES",
    "SLOW_DOWN",
    "SLOW_DOWN_BUTTON",
    "STORE_BUSY",
    "STORE_FULL",
    "UNSUBSCRIBED",
    "USAGE",
    "chart_caption",
    "help_reply",
    "help_text",
    "not_ready",
    "setting_button",
    "setting_changed",
    "settings_text",
    "subscribed",
    "unknown_command",
    "unknown_symbol",
    "updated_ago",
    "usage",
    "window_not_computed",
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


def usage(command: str, problem: str = "") -> str:
    """A command's usage, after what was wrong with how it was called."""
    lead = f"{escape(problem)}\n" if problem else ""
    return f"{lead}Usage: {escape(USAGE[command])}"


def help_reply(admin: bool) -> str:
    """/help: what the bot does, then every command the asker may use."""
    return f"{escape(HELP)}\n{escape(help_text(admin))}"


def unknown_command(command: str, admin: bool) -> str:
    """A command the bot does not know, with the ones it does."""
    return f"Unknown command {escape(command)}. Commands:\n{escape(help_text(admin))}"


# -- subscribing ----------------------------------------------------------------------------

GROUP_SUBSCRIBE_ADMINS_ONLY = "In a group, only its administrators can subscribe it to alerts."
GROUP_UNSUBSCRIBE_ADMINS_ONLY = "In a group, only its administrators can unsubscribe it."
UNSUBSCRIBED = "Unsubscribed. Your settings are kept for when you come back with /subscribe."
NOT_SUBSCRIBED = "This chat is not subscribed. /subscribe to start."


def subscribed(new: bool) -> str:
    """/start and /subscribe: what the bot does, and whether the chat was subscribed already."""
    state = "Subscribed." if new else "Already subscribed."
    return (
        f"{escape(HELP)}\n\n<b>{state}</b> You will hear when the link spikes or changes "
        "regime. /settings chooses what arrives and how; /stop ends it."
    )


# -- the numbers ------------------------------------------------------------------------------


def unknown_symbol(symbol: str, known: Sequence[str]) -> str:
    """/corr asked for a symbol the bot does not watch (plain text: :func:`usage` escapes it)."""
    return f"Unknown symbol {symbol}; try {', '.join(known)}."


def window_not_computed(window: int, windows: Sequence[int]) -> str:
    """/chart asked for a window the bot does not compute (plain text, for :func:`usage`)."""
    return f"Window {window} is not computed; try {', '.join(map(str, windows))}."


def not_ready(next_run: datetime) -> str:
    """Before the first computation: when the numbers will be there."""
    local = next_run.strftime("%A %Y-%m-%d %H:%M %Z")
    return (
        "The first numbers are not computed yet. They will be ready after the next run, "
        f"{escape(local)}."
    )


def updated_ago(age: timedelta, *, ok: bool) -> str:
    """The line under /corr: how old the numbers are, and whether data was missing."""
    hours = int(age.total_seconds() // 3600)
    note = "" if ok else " (some data was missing: numbers may lag)"
    return f"\n<i>Updated {hours} h ago{escape(note)}.</i>"


def chart_caption(pair: Pair, window: int | None, as_of: date) -> str:
    """The caption of a /chart photo (plain text: captions are sent without parse mode)."""
    shown = "all windows" if window is None else f"{window} sessions"
    return f"{pair}, {shown}, as of {as_of}"


# -- settings -------------------------------------------------------------------------------

SETTINGS_NEED_SUBSCRIPTION = "This chat is not subscribed yet: /subscribe first, then choose here."
GROUP_SETTINGS_ADMINS_ONLY = "In a group, only its administrators can change settings."
BUTTON_UNKNOWN = "Unknown button."
BUTTON_ADMINS_ONLY = "Only group administrators can change settings."
BUTTON_NOT_APPLIED = "Subscribe first, or that setting is unknown."
#: The choices each setting offers, in the order its buttons show them.
SETTING_CHOICES: dict[str, tuple[str, ...]] = {
    "spikes": ("on", "silent", "off"),
    "regimes": ("on", "silent", "off"),
    "digest": ("on", "off"),
}
_SETTING_NAMES = {
    "spikes": "Spike and decoupling alerts",
    "regimes": "Regime alerts",
    "digest": "Daily digest",
}


def settings_text(chat: Chat) -> str:
    """/settings: what this chat receives, and how."""
    state = "subscribed" if chat.active else "not subscribed (/subscribe)"
    return (
        f"<b>Settings for this chat</b> ({escape(state)})\n"
        f"{_SETTING_NAMES['spikes']}: <b>{chat.spikes.value}</b>\n"
        f"{_SETTING_NAMES['regimes']}: <b>{chat.regimes.value}</b>\n"
        f"{_SETTING_NAMES['digest']}: <b>{'on' if chat.digest else 'off'}</b>\n"
        "<i>silent: delivered without a notification sound</i>"
    )


def setting_button(setting: str, value: str, current: str) -> str:
    """A settings button's label; the chat's current choice is marked."""
    mark = "• " if value == current else ""
    return f"{mark}{setting.capitalize()} {value}"


def setting_changed(setting: str, value: str) -> str:
    """The toast after a settings button was pressed."""
    return f"{setting}: {value}"


# -- administrators ---------------------------------------------------------------------------

ADMINS_ONLY = "This command is for the bot's administrators."
RUNNING_NOW = "Running the daily job now..."
#: What an empty reply becomes (Telegram refuses empty messages).
EMPTY = "(empty)"
