"""What the command line prints (bot.present.reports): dry runs, check summaries, tables."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from bot.core.market_data import RefreshReport
from bot.core.message import Message
from bot.core.service import CheckResult
from bot.present.plain import render_text
from bot.present.reports import check_summary, dry_run, indented, per_year_table, sampling_text
from tests.fakes.messages import hand_made_snapshot, stored_alert

DAILY_CLOSE = (
    "crypto sampled at its daily close (00:00 UTC, 3 to 7 hours after the equity close; "
    "news after the US close lands a session apart). alerts.shift.lead is "
)


@dataclass
class _Delivered:
    """What a pass of deliveries reports, as the Telegram sender's report has it."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    left_to: str | None = None


def _result() -> CheckResult:
    """A run on the 2024-06-14 snapshot that recorded two alerts."""
    return CheckResult(
        refresh=RefreshReport(),
        recorded=[stored_alert(), stored_alert()],
        snapshot=hand_made_snapshot(),
        held_back={},
    )


# --------------------------------------------------------------------------- check --dry-run


def test_dry_run_shows_each_alert_with_its_recipients() -> None:
    """Each alert that would go out: its key, how many chats, then its text as subscribers read."""
    first = Message("BTC is moving with PSCT", "Why it matters.", footer="As of Friday.")
    second = Message("ETH is moving with PSCT", "Why that matters.")
    text = dry_run(hand_made_snapshot(), [("spike:a", first, 3), ("spike:b", second, 1)])
    assert text == (
        "Dry run: data as of 2024-06-14; nothing recorded or sent.\n"
        f"\n--- spike:a: to 3 chat(s) ---\n{render_text(first)}\n"
        f"\n--- spike:b: to 1 chat(s) ---\n{render_text(second)}"
    )


def test_dry_run_with_nothing_to_send_says_so() -> None:
    """No alert: the header, then "No new alert would be sent."; no snapshot reads n/a."""
    assert dry_run(None, []) == (
        "Dry run: data as of n/a; nothing recorded or sent.\nNo new alert would be sent."
    )


# --------------------------------------------------------------------------- check


def test_check_summary_counts_the_deliveries() -> None:
    """Sent here: the session, the new alerts, then what became of each delivery."""
    summary = check_summary(_result(), _Delivered(sent=5, retried=1, failed=0, dropped=2))
    assert summary == (
        "Data as of 2024-06-14: 2 new alert(s); deliveries: 5 sent, 1 to retry, 0 failed, "
        "2 dropped (chat gone)."
    )


def test_check_summary_beside_a_running_bot_leaves_the_deliveries_to_it() -> None:
    """With a sender holding the store, the summary names it and counts no deliveries."""
    summary = check_summary(_result(), _Delivered(sent=5, left_to="host:41"))
    assert summary == (
        "Data as of 2024-06-14: 2 new alert(s) recorded; deliveries left to the running bot "
        "(sender host:41 holds this store), which sends them."
    )


# --------------------------------------------------------------------------- tables and texts


def test_per_year_table_aligns_numbers_right_under_their_headers() -> None:
    """Years and every column right-aligned, correlations to two decimals, counts as they are."""
    table = pd.DataFrame(
        {"BTC~PSCT": [0.4123, -0.05, math.nan], "spike": [3, 12, 0]}, index=[2022, 2023, 2024]
    )
    assert per_year_table(table).splitlines() == [
        "year  BTC~PSCT  spike",
        "----  --------  -----",
        "2022      0.41      3",
        "2023     -0.05     12",
        "2024       n/a      0",
    ]


def test_sampling_text_at_the_equity_close() -> None:
    """Crypto sampled with the equities says so, and says nothing about the lead rule."""
    text = sampling_text(["BTC", "ETH"], {"BTC": "equity_close"}, lead=True)
    assert text == "crypto sampled at the equity close (synchronous with the equities)."


def test_sampling_text_at_the_daily_close_says_whether_the_lead_rule_is_on() -> None:
    """One crypto at its daily close: the gap to the equity close, and alerts.shift.lead."""
    sampling = {"BTC": "equity_close", "ETH": "daily_close"}
    assert sampling_text(["BTC", "ETH"], sampling, lead=True) == f"{DAILY_CLOSE}on."
    assert sampling_text(["BTC", "ETH"], sampling, lead=False) == f"{DAILY_CLOSE}off."


def test_indented_shifts_every_line_but_keeps_blank_lines_blank() -> None:
    """A message under a command's own lines: two spaces in, no trailing spaces on blanks."""
    message = Message("Title", "Lead.", facts=(("Fact", "1"),), footer="Footer")
    assert indented(message).splitlines() == [
        "  Title",
        "  Lead.",
        "",
        "  Fact  1",
        "",
        "  Footer",
    ]
