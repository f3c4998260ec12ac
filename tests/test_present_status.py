"""The administrators' /status (bot.present.status), from a hand-built StatusReport."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.models import Asset, AssetKind, SymbolStatus
from bot.core.sender_lease import SenderState
from bot.core.status import StatusReport
from bot.core.store.meta import LastRun
from bot.core.store.outbox import OutboxCounts
from bot.present.status import status_html
from tests.fakes.messages import visible

#: Friday 2024-06-07, 22:00 UTC: that day's run is over.
NOW = datetime(2024, 6, 7, 22, 0, tzinfo=UTC)
FRIDAY = date(2024, 6, 7)
PSCT = Asset("PSCT", AssetKind.EQUITY)
RUN = LastRun(NOW - timedelta(minutes=30), NOW - timedelta(minutes=29), True, 2, FRIDAY)
SENDER = SenderState("host:41", NOW - timedelta(hours=5), NOW, NOW + timedelta(seconds=60))


def _symbol(**changes: Any) -> SymbolStatus:
    """PSCT priced up to Friday, as expected (fresh), unless ``changes`` say otherwise."""
    status = SymbolStatus(PSCT, "yahoo", date(2023, 6, 1), FRIDAY, 260, FRIDAY, NOW)
    return replace(status, **changes)


def _report(**changes: Any) -> StatusReport:
    """A healthy bot's report: three subscribers, an ok run, a running sender, PSCT fresh."""
    report = StatusReport(
        version="9.8.7",
        now=NOW,
        subscribers=3,
        last_run=RUN,
        last_success=RUN,
        next_run=datetime(2024, 6, 10, 17, 30, tzinfo=ZoneInfo("America/New_York")),
        outbox=OutboxCounts(pending=1, sending=0, sent=5, failed=2, dropped=1),
        sender=SENDER,
        data=(_symbol(),),
    )
    return replace(report, **changes)


def _lines(report: StatusReport) -> list[str]:
    return visible(status_html(report)).splitlines()


def _line(report: StatusReport, start: str) -> str:
    [line] = [line for line in _lines(report) if line.startswith(start)]
    return line


# --------------------------------------------------------------------------- the whole report


def test_the_report_gives_version_subscribers_runs_next_run_and_outbox() -> None:
    """Each fact has its own line, in a fixed order, under the bold version."""
    html = status_html(_report())
    assert html.splitlines()[:7] == [
        "<b>corrbot 9.8.7</b>",
        "Subscribers: 3",
        "Last run: 2024-06-07T21:31:00Z (ok, 2 alerts, data as of 2024-06-07)",
        "Last successful run: 2024-06-07T21:31:00Z (ok, 2 alerts, data as of 2024-06-07)",
        "Next run: Mon 2024-06-10 17:30 EDT",
        "Outbox: 1 pending, 0 sending, 5 sent, 2 failed, 1 dropped",
        "Sender: running",
    ]


def test_before_any_run_both_runs_read_never() -> None:
    """A bot that never ran says "never" for the last run and the last success."""
    lines = _lines(_report(last_run=None, last_success=None))
    assert "Last run: never" in lines
    assert "Last successful run: never" in lines


def test_a_run_with_problems_says_so() -> None:
    """A run that had problems reads "with problems", not "ok"."""
    failed = replace(RUN, ok=False, alerts=0)
    line = _line(_report(last_run=failed), "Last run:")
    assert line == "Last run: 2024-06-07T21:31:00Z (with problems, 0 alerts, data as of 2024-06-07)"


# --------------------------------------------------------------------------- data


def test_a_symbol_is_fresh_only_when_nothing_is_pending_or_given_up() -> None:
    """Up to date with a hole still fetched, or one given up, is "up to date", never "fresh"."""
    pending = _symbol(pending=(date(2024, 6, 4),))
    gap = _symbol(gaps=(date(2024, 5, 2),))
    lines = _lines(_report(data=(_symbol(), pending, gap)))
    data = lines[lines.index("Data") + 1 :]
    assert data[0] == "PSCT: yahoo, last 2024-06-07, fresh"
    assert data[1] == (
        "PSCT: yahoo, last 2024-06-07, up to date; 1 missing, fetched again (2024-06-04)"
    )
    assert data[2].startswith("PSCT: yahoo, last 2024-06-07, up to date; 1 known gap")
    assert data[2].endswith(" (2024-05-02)")


def test_a_feed_two_sessions_behind_stopped_moving() -> None:
    """Two sessions behind (or more) the feed is said to have stopped moving."""
    for behind in (2, 5):
        line = _line(_report(data=(_symbol(stale_sessions=behind),)), "PSCT:")
        assert line.endswith(f", {behind} sessions behind: the feed stopped moving")


def test_one_session_behind_may_not_be_published_yet() -> None:
    """One session behind is not yet a stopped feed: the close may be late."""
    line = _line(_report(data=(_symbol(stale_sessions=1),)), "PSCT:")
    assert line == "PSCT: yahoo, last 2024-06-07, 1 session behind (not published yet?)"


def test_holes_are_listed_by_date_three_at_most() -> None:
    """Four missing sessions show the first three dates and how many more."""
    days = tuple(date(2024, 6, d) for d in (3, 4, 5, 6))
    line = _line(_report(data=(_symbol(pending=days),)), "PSCT:")
    assert line.endswith(
        "; 4 missing, fetched again (2024-06-03, 2024-06-04, 2024-06-05 and 1 more)"
    )


def test_a_symbol_never_priced_says_none() -> None:
    """A symbol without any price reads "last none"."""
    line = _line(_report(data=(_symbol(last_session=None, first_session=None),)), "PSCT:")
    assert line.startswith("PSCT: yahoo, last none, ")


# --------------------------------------------------------------------------- the sender


def test_a_paused_sender_says_since_when_and_why() -> None:
    """An outage pause gives its start in UTC, the reason and the deliveries given up."""
    paused = replace(
        SENDER, paused_since=datetime(2024, 6, 7, 20, 15, tzinfo=UTC), pause_reason="ConnectError"
    )
    line = _line(_report(sender=replace(paused, given_up=2)), "Sender:")
    assert line == (
        "Sender: paused since 2024-06-07 20:15 UTC: Telegram unreachable (ConnectError), 2 given up"
    )


def test_a_sender_whose_lease_expired_is_not_running() -> None:
    """A lease past its expiry, a released one or none at all: deliveries wait."""
    expired = replace(SENDER, expires_at=NOW - timedelta(seconds=1))
    released = replace(SENDER, released=True)
    for sender in (expired, released, None):
        line = _line(_report(sender=sender), "Sender:")
        assert line == "Sender: not running: deliveries wait (see `corrbot health`)"


# --------------------------------------------------------------------------- problems, escaping


def test_the_problems_of_the_last_run_are_listed_ten_at_most() -> None:
    """Under "Problems", the last run's problems in order, the first ten only."""
    problems = [f"SYM{i}: fetch_failed: HTTP 503" for i in range(12)]
    lines = _lines(_report(last_run=replace(RUN, ok=False, problems=problems)))
    assert lines[lines.index("Problems") + 1 :] == problems[:10]


def test_no_problems_section_without_problems() -> None:
    """A run without problems (or no run) leaves the section out."""
    assert "Problems" not in _lines(_report())
    assert "Problems" not in _lines(_report(last_run=None))


def test_everything_from_outside_is_html_escaped() -> None:
    """Version, problems, sources and the pause reason keep their ``<``, ``>`` and ``&``."""
    paused = replace(SENDER, paused_since=NOW, pause_reason="<timeout> & more")
    report = _report(
        version="1.0<dev>&",
        sender=paused,
        data=(_symbol(source="csv <./prices & co>"),),
        last_run=replace(RUN, problems=["PSCT: fetch_failed: HTTP <503> & co"]),
    )
    text = visible(status_html(report))  # valid Telegram HTML, or this fails
    assert "corrbot 1.0<dev>&" in text
    assert "Telegram unreachable (<timeout> & more)" in text
    assert "PSCT: csv <./prices & co>, last 2024-06-07, fresh" in text
    assert "PSCT: fetch_failed: HTTP <503> & co" in text
