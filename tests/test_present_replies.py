"""The bot's fixed replies (bot.present.replies): usage, help, settings, readiness, freshness."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.models import Pair
from bot.core.store.chats import Chat, Level
from bot.present.replies import (
    COMMANDS,
    USAGE,
    chart_caption,
    help_reply,
    help_text,
    not_ready,
    setting_button,
    settings_text,
    subscribed,
    unknown_command,
    unknown_symbol,
    updated_ago,
    usage,
    window_not_computed,
)
from tests.fakes.messages import visible

NEW_YORK = ZoneInfo("America/New_York")


def _chat(**settings: Any) -> Chat:
    """A subscribed group with the given settings (the defaults otherwise)."""
    return Chat(-100, "supergroup", "Traders", True, **settings)


# --------------------------------------------------------------------------- usage and help


def test_usage_escapes_the_problem_text() -> None:
    """What was wrong (a symbol a user typed) is escaped above the command's usage line."""
    text = usage("corr", unknown_symbol("<b>DOGE&", ["BTC", "ETH"]))
    assert text == (
        "Unknown symbol &lt;b&gt;DOGE&amp;; try BTC, ETH.\n"
        "Usage: /corr [SYMBOL] - latest correlations, e.g. /corr or /corr ETH"
    )
    assert visible(text).startswith("Unknown symbol <b>DOGE&; try BTC, ETH.\nUsage: /corr")


def test_usage_without_a_problem_is_the_usage_line_alone() -> None:
    """Asked for plainly, the usage is one line with nothing above it."""
    assert usage("chart") == "Usage: /chart [WINDOW] - correlation chart, e.g. /chart or /chart 90"


def test_help_lists_admin_commands_only_for_admins() -> None:
    """/status and /runnow are listed for administrators only, after every public command."""
    public, admin = help_text(admin=False), help_text(admin=True)
    assert "/status" not in public
    assert "/runnow" not in public
    assert admin.splitlines() == [*public.splitlines(), USAGE["status"], USAGE["runnow"]]


def test_help_lists_each_public_command_once_and_not_the_unsubscribe_alias() -> None:
    """Every menu command has its usage in /help; /unsubscribe (an alias of /stop) does not."""
    lines = help_text(admin=False).splitlines()
    for name, _ in COMMANDS:
        assert sum(line.startswith(f"/{name} ") and " - " in line for line in lines) == 1, name
    assert not any(line.startswith("/unsubscribe") for line in lines)


def test_help_reply_is_valid_html_with_the_usage_lines_readable() -> None:
    """The /settings usage's ``on|silent|off`` and every other line read as typed in HTML."""
    reply = help_reply(admin=True)
    text = visible(reply)
    assert text.startswith("I watch how tightly Bitcoin moves")
    assert "/settings spikes on|silent|off" in text
    assert text.endswith(USAGE["runnow"])


def test_unknown_command_is_escaped_and_offers_the_askers_commands() -> None:
    """The unknown command is escaped; the list after it is the one /help gives the asker."""
    text = unknown_command("/x<y>&", admin=False)
    assert text.startswith("Unknown command /x&lt;y&gt;&amp;. Commands:\n")
    assert visible(text) == f"Unknown command /x<y>&. Commands:\n{help_text(admin=False)}"


# --------------------------------------------------------------------------- subscribing


def test_subscribed_says_whether_the_chat_was_subscribed_already() -> None:
    """A new subscription says "Subscribed."; a repeated /subscribe "Already subscribed."."""
    assert "\n\n<b>Subscribed.</b> You will hear" in subscribed(new=True)
    assert "\n\n<b>Already subscribed.</b> You will hear" in subscribed(new=False)


# --------------------------------------------------------------------------- the numbers


def test_window_not_computed_lists_the_windows_that_are() -> None:
    """/chart with a window the bot does not compute names the ones it does."""
    assert window_not_computed(60, [30, 90]) == "Window 60 is not computed; try 30, 90."


def test_not_ready_names_the_next_runs_local_time() -> None:
    """Before the first run, the reply gives the next run's day, date and time in its zone."""
    next_run = datetime(2024, 6, 10, 17, 30, tzinfo=NEW_YORK)
    assert not_ready(next_run) == (
        "The first numbers are not computed yet. They will be ready after the next run, "
        "Monday 2024-06-10 17:30 EDT."
    )


def test_updated_ago_rounds_down_to_whole_hours() -> None:
    """Numbers 2 h 59 min old read "2 h ago", not 3."""
    assert updated_ago(timedelta(hours=2, minutes=59), ok=True) == "\n<i>Updated 2 h ago.</i>"


def test_updated_ago_notes_missing_data() -> None:
    """When the run that made the numbers had problems, the line says they may lag."""
    line = updated_ago(timedelta(minutes=30), ok=False)
    assert line == "\n<i>Updated 0 h ago (some data was missing: numbers may lag).</i>"


def test_chart_caption_names_the_window_or_all_windows() -> None:
    """A caption says which window the chart shows, or that it shows them all."""
    pair, as_of = Pair("BTC", "PSCT"), date(2024, 6, 14)
    assert chart_caption(pair, 90, as_of) == "BTC~PSCT, 90 sessions, as of 2024-06-14"
    assert chart_caption(pair, None, as_of) == "BTC~PSCT, all windows, as of 2024-06-14"


# --------------------------------------------------------------------------- settings


def test_settings_text_marks_the_chats_choices() -> None:
    """/settings shows this chat's level for each kind of alert and whether the digest is on."""
    text = settings_text(_chat(spikes=Level.SILENT, regimes=Level.OFF, digest=True))
    assert text.splitlines()[1:4] == [
        "Spike and decoupling alerts: <b>silent</b>",
        "Regime alerts: <b>off</b>",
        "Daily digest: <b>on</b>",
    ]


def test_settings_text_says_whether_the_chat_is_subscribed() -> None:
    """An unsubscribed chat's settings say so and how to subscribe."""
    assert settings_text(_chat()).startswith("<b>Settings for this chat</b> (subscribed)\n")
    inactive = Chat(7, "private", "Ann", False)
    assert settings_text(inactive).startswith(
        "<b>Settings for this chat</b> (not subscribed (/subscribe))\n"
    )


def test_setting_button_marks_the_current_value() -> None:
    """Only the button of the chat's current choice carries the mark."""
    labels = [setting_button("spikes", value, "silent") for value in ("on", "silent", "off")]
    assert labels == ["Spikes on", "• Spikes silent", "Spikes off"]
