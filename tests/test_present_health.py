"""The one line of `corrbot health` (bot.present.health), from a hand-built Verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.health import Finding, Verdict
from bot.present.health import health_line, no_store, store_unreadable

LAST_OK = datetime(2024, 6, 6, 21, 31, tzinfo=UTC)
DUE = datetime(2024, 6, 7, 17, 30, tzinfo=ZoneInfo("America/New_York"))


def _unhealthy(finding: Finding) -> str:
    return health_line(Verdict(finding, timedelta(seconds=5), LAST_OK))


# --------------------------------------------------------------------------- healthy


def test_healthy_gives_the_heartbeat_age_and_the_last_successful_run() -> None:
    """Nothing wrong: the heartbeat's age and when the job last succeeded, in UTC."""
    line = health_line(Verdict(None, timedelta(seconds=30), LAST_OK))
    assert line == "healthy: heartbeat 30 s ago, last successful run 2024-06-06 21:31 UTC"


def test_healthy_before_any_run_was_due() -> None:
    """A bot started before its first scheduled run says no run is due yet."""
    assert health_line(Verdict(None, timedelta(seconds=3), None)) == (
        "healthy: heartbeat 3 s ago, no run due yet"
    )


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 s"), (119, "119 s"), (120, "2 min"), (7199, "119 min"), (7200, "2 h"), (10799, "2 h")],
)
def test_ages_read_in_seconds_minutes_then_hours_rounded_down(seconds: int, shown: str) -> None:
    """Under 2 minutes in seconds, under 2 hours in minutes, then whole hours, rounded down."""
    assert health_line(Verdict(None, timedelta(seconds=seconds), LAST_OK)).startswith(
        f"healthy: heartbeat {shown} ago, "
    )


# --------------------------------------------------------------------------- one line per finding


def test_no_heartbeat() -> None:
    """No heartbeat at all asks whether the bot runs."""
    assert _unhealthy(Finding("no_heartbeat")) == (
        "unhealthy: no heartbeat yet (is `corrbot run` running?)"
    )


def test_heartbeat_old() -> None:
    """An old heartbeat gives its age."""
    finding = Finding("heartbeat_old", age=timedelta(minutes=7))
    assert _unhealthy(finding) == "unhealthy: heartbeat is 7 min old (is `corrbot run` alive?)"


def test_heartbeat_future() -> None:
    """A heartbeat ahead of the clock points at the clock."""
    finding = Finding("heartbeat_future", age=timedelta(hours=3))
    assert _unhealthy(finding) == (
        "unhealthy: heartbeat is 3 h in the future (did the system clock jump?)"
    )


def test_never_polled() -> None:
    """No poll answered yet asks whether Telegram is reachable."""
    assert _unhealthy(Finding("never_polled")) == (
        "unhealthy: Telegram has not answered a poll yet (is it reachable?)"
    )


def test_polling_stuck() -> None:
    """A stuck poller says when Telegram last answered."""
    finding = Finding("polling_stuck", age=timedelta(seconds=300))
    assert _unhealthy(finding) == (
        "unhealthy: polling is stuck: Telegram last answered a poll 5 min ago"
    )


def test_sender_not_started() -> None:
    """No sender ever: no alert can be delivered."""
    assert _unhealthy(Finding("sender_not_started")) == (
        "unhealthy: the sender has not started (no alert can be delivered)"
    )


def test_sender_not_running() -> None:
    """A sender gone quiet says when it was last seen."""
    finding = Finding("sender_not_running", age=timedelta(seconds=95))
    assert _unhealthy(finding) == (
        "unhealthy: the sender is not running (last seen 95 s ago): deliveries wait"
    )


def test_sender_paused_with_and_without_a_reason() -> None:
    """A pause gives how long and, when known, why Telegram is unreachable."""
    reason = Finding("sender_paused", age=timedelta(minutes=12), reason="ConnectError: refused")
    assert _unhealthy(reason) == (
        "unhealthy: deliveries paused for 12 min, Telegram unreachable: ConnectError: refused"
    )
    bare = Finding("sender_paused", age=timedelta(minutes=12))
    assert _unhealthy(bare) == "unhealthy: deliveries paused for 12 min, Telegram unreachable"


def test_job_missed_gives_the_due_run_the_last_success_and_the_first_problem() -> None:
    """A missed run: when it was due (its zone), the last success (UTC), then what went wrong."""
    finding = Finding("job_missed", due=DUE, last_ok=LAST_OK, reason="PSCT: HTTP 503")
    assert _unhealthy(finding) == (
        "unhealthy: the daily job due 2024-06-07 17:30 EDT has not succeeded "
        "(last at 2024-06-06 21:31 UTC); PSCT: HTTP 503"
    )


def test_job_missed_that_never_succeeded() -> None:
    """Without any success and without a problem recorded, the line says "never" and stops."""
    finding = Finding("job_missed", due=DUE)
    assert _unhealthy(finding) == (
        "unhealthy: the daily job due 2024-06-07 17:30 EDT has not succeeded (never)"
    )


# --------------------------------------------------------------------------- the store


def test_no_store_names_the_path() -> None:
    """Without a store file the line names where it was looked for."""
    assert no_store(Path("/data/corrbot.db")) == (
        "unhealthy: no store at /data/corrbot.db (has `corrbot run` started?)"
    )


def test_store_unreadable_passes_the_error_on() -> None:
    """A store that cannot be opened reports the error as the problem."""
    assert store_unreadable("database disk image is malformed") == (
        "unhealthy: database disk image is malformed"
    )
