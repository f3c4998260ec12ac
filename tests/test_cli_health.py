"""`corrbot health`: alive, on schedule, with weekends and holidays understood."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.cli.health import check_health
from bot.config import Config
from bot.core.sender_lease import SenderState
from bot.core.store import Store
from bot.core.store.meta import LastRun
from tests.fakes.clock import INSTANTS

NEW_YORK = ZoneInfo("America/New_York")


def _config(tmp_path: Path) -> Config:
    return Config.model_validate(
        {
            "storage": {"path": tmp_path / "bot.sqlite3"},
            "data": {"crypto_source": "synthetic", "equity_source": "synthetic"},
        }
    )


def _sender(at: datetime, **changes: Any) -> SenderState:
    """A sender that renewed its lease at ``at``, valid 2 min (renewals outpace heartbeats)."""
    state = SenderState("host:1:ab", at - timedelta(hours=1), at, at + timedelta(minutes=2))
    return replace(state, **changes)


def _prepare(
    tmp_path: Path,
    *,
    heartbeat: datetime | None,
    success: datetime | None,
    polled: datetime | Literal["heartbeat"] | None = "heartbeat",
    sender: SenderState | Literal["heartbeat"] | None = "heartbeat",
    last_run: LastRun | None = None,
) -> Config:
    """A store as a running bot leaves it; by default it polled and renewed with its heartbeat."""
    config = _config(tmp_path)
    with Store.open(config.storage.path) as store:
        polled_at = heartbeat if polled == "heartbeat" else polled
        if heartbeat is not None:
            store.meta.beat(heartbeat, polled_at=polled_at)
        lease = (_sender(heartbeat) if heartbeat else None) if sender == "heartbeat" else sender
        if lease is not None:
            store.meta.swap_lease(lambda _: lease.to_json())
        if success is not None:
            store.meta.record_run(LastRun(success, success, True, 0, None))
        if last_run is not None:
            store.meta.record_run(last_run)
    return config


# Daily job at 17:30 New York, retried for up to 6 h: due with slack until 00:00 New York.
FRIDAY_RUN = datetime(2024, 6, 7, 21, 35, tzinfo=UTC)  # Friday 17:35 EDT
SATURDAY_NOON = datetime(2024, 6, 8, 16, 0, tzinfo=UTC)
MONDAY_MORNING = datetime(2024, 6, 10, 13, 0, tzinfo=UTC)
TUESDAY_NOON = datetime(2024, 6, 11, 16, 0, tzinfo=UTC)


def test_healthy_after_the_weekend(tmp_path: Path) -> None:
    """Friday's run still counts on Monday morning: the weekend is not 'three days late'."""
    config = _prepare(
        tmp_path, heartbeat=MONDAY_MORNING - timedelta(seconds=30), success=FRIDAY_RUN
    )
    verdict = check_health(config, MONDAY_MORNING)
    assert verdict.ok, verdict.line
    assert verdict.line.startswith("healthy: heartbeat 30 s ago")


def test_unhealthy_when_a_weekday_run_was_missed(tmp_path: Path) -> None:
    """Monday's run had not succeeded by Tuesday noon: unhealthy, naming the due run."""
    config = _prepare(tmp_path, heartbeat=TUESDAY_NOON, success=FRIDAY_RUN)
    verdict = check_health(config, TUESDAY_NOON)
    assert not verdict.ok
    assert "daily job due 2024-06-10 17:30" in verdict.line


def test_holiday_is_not_a_missed_run(tmp_path: Path) -> None:
    """Juneteenth (no session) does not make Wednesday's health check fail."""
    tuesday_run = datetime(2024, 6, 18, 21, 40, tzinfo=UTC)
    wednesday_evening = datetime(2024, 6, 20, 1, 0, tzinfo=UTC)  # 21:00 EDT on the holiday
    config = _prepare(tmp_path, heartbeat=wednesday_evening, success=tuesday_run)
    assert check_health(config, wednesday_evening).ok


def test_still_retrying_within_the_window_is_healthy(tmp_path: Path) -> None:
    """An hour after the scheduled time, a run that is still retrying is not yet a failure."""
    now = datetime(2024, 6, 11, 22, 30, tzinfo=UTC)  # Tuesday 18:30 EDT
    config = _prepare(tmp_path, heartbeat=now, success=datetime(2024, 6, 10, 21, 40, tzinfo=UTC))
    assert check_health(config, now).ok


def test_stale_heartbeat_is_unhealthy(tmp_path: Path) -> None:
    """A heartbeat older than the limit means the bot is not running."""
    config = _prepare(tmp_path, heartbeat=SATURDAY_NOON - timedelta(minutes=10), success=FRIDAY_RUN)
    verdict = check_health(config, SATURDAY_NOON)
    assert not verdict.ok
    assert verdict.line == "unhealthy: heartbeat is 10 min old (is `corrbot run` alive?)"


def test_heartbeat_from_the_future_is_unhealthy(tmp_path: Path) -> None:
    """A heartbeat well ahead of this clock means one of the two clocks is wrong."""
    config = _prepare(tmp_path, heartbeat=SATURDAY_NOON + timedelta(minutes=10), success=FRIDAY_RUN)
    verdict = check_health(config, SATURDAY_NOON)
    assert not verdict.ok
    assert verdict.line == (
        "unhealthy: heartbeat is 10 min in the future (did the system clock jump?)"
    )


def test_heartbeat_a_little_ahead_is_healthy(tmp_path: Path) -> None:
    """Seconds of skew between the bot's write and the probe's read are no failure."""
    config = _prepare(tmp_path, heartbeat=SATURDAY_NOON + timedelta(seconds=2), success=FRIDAY_RUN)
    assert check_health(config, SATURDAY_NOON).ok


#: For each instant of the clock matrix: the scheduled run (17:30 New York) that must have
#: succeeded by then, once its six hours of retries and the slack are over.
DUE_RUN_AT = {
    "weekday-2h-after-close": datetime(2026, 11, 30, 22, 30, tzinfo=UTC),  # Monday's
    "1h-after-early-close": datetime(2026, 11, 25, 22, 30, tzinfo=UTC),  # Wednesday's
    "saturday": datetime(2026, 11, 27, 22, 30, tzinfo=UTC),  # Friday's (early close)
    "holiday": datetime(2026, 11, 25, 22, 30, tzinfo=UTC),  # Wednesday's
    "dst-45min-after-close": datetime(2027, 3, 12, 22, 30, tzinfo=UTC),  # Friday's, EST
    "new-years-eve-night": datetime(2026, 12, 30, 22, 30, tzinfo=UTC),  # Wednesday's
}


@pytest.mark.parametrize("instant", list(INSTANTS))
def test_the_run_due_is_found_at_every_instant_of_the_clock_matrix(
    tmp_path: Path, instant: str
) -> None:
    """Weekends, holidays, early closes and DST: the latest run past its retries is the due one."""
    now = INSTANTS[instant]
    due = DUE_RUN_AT[instant]
    config = _prepare(tmp_path, heartbeat=now, success=due - timedelta(minutes=1))
    verdict = check_health(config, now)
    assert not verdict.ok
    assert f"daily job due {due.astimezone(NEW_YORK):%Y-%m-%d %H:%M}" in verdict.line
    config = _prepare(tmp_path, heartbeat=now, success=due)
    assert check_health(config, now).ok


def test_missing_store_is_unhealthy_and_not_created(tmp_path: Path) -> None:
    """Health never creates a store; it says there is none."""
    config = _config(tmp_path)
    verdict = check_health(config, SATURDAY_NOON)
    assert not verdict.ok
    assert "no store at" in verdict.line
    assert not Path(config.storage.path).exists()


def test_corrupt_store_is_unhealthy(tmp_path: Path) -> None:
    """A store that cannot be opened is reported in one line."""
    config = _config(tmp_path)
    Path(config.storage.path).write_bytes(b"garbage" * 200)
    verdict = check_health(config, SATURDAY_NOON)
    assert not verdict.ok
    assert verdict.line.startswith("unhealthy: the store at")


def test_no_run_ever_is_unhealthy_once_one_was_due(tmp_path: Path) -> None:
    """A bot that never completed a job is unhealthy once a run is overdue."""
    config = _prepare(tmp_path, heartbeat=TUESDAY_NOON, success=None)
    verdict = check_health(config, TUESDAY_NOON)
    assert not verdict.ok
    assert "(never)" in verdict.line


def test_command_prints_one_line_and_sets_the_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`corrbot health` prints one line; exit 1 when unhealthy."""
    config_path = tmp_path / "config.yaml"
    config_path.write_text("storage: {path: bot.sqlite3}\n")
    assert main(["health", "--config", str(config_path)]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith("unhealthy: no store at")


def test_a_poller_that_stopped_returning_is_unhealthy(tmp_path: Path) -> None:
    """Heartbeat fresh but no getUpdates answer for 10 min: commands go unanswered."""
    config = _prepare(
        tmp_path,
        heartbeat=TUESDAY_NOON,
        success=datetime(2024, 6, 10, 21, 40, tzinfo=UTC),
        polled=TUESDAY_NOON - timedelta(minutes=10),
    )
    verdict = check_health(config, TUESDAY_NOON)
    assert not verdict.ok
    assert "polling is stuck: Telegram last answered a poll 10 min ago" in verdict.line


def test_no_poll_answered_yet_is_unhealthy(tmp_path: Path) -> None:
    """Telegram unreachable since start-up: alive, but serving nobody."""
    config = _prepare(tmp_path, heartbeat=TUESDAY_NOON, success=None, polled=None)
    verdict = check_health(config, TUESDAY_NOON)
    assert not verdict.ok
    assert "Telegram has not answered a poll yet" in verdict.line


def test_a_sender_that_stopped_renewing_its_lease_is_unhealthy(tmp_path: Path) -> None:
    """The sender task died (or hangs) while commands are answered: deliveries wait."""
    config = _prepare(
        tmp_path,
        heartbeat=TUESDAY_NOON,
        success=datetime(2024, 6, 10, 21, 40, tzinfo=UTC),
        sender=_sender(TUESDAY_NOON - timedelta(minutes=5)),
    )
    verdict = check_health(config, TUESDAY_NOON)
    assert not verdict.ok
    assert "the sender is not running (last seen 5 min ago)" in verdict.line


def test_no_sender_is_unhealthy(tmp_path: Path) -> None:
    """A bot whose sender never started can record alerts but deliver none."""
    config = _prepare(tmp_path, heartbeat=TUESDAY_NOON, success=None, sender=None)
    verdict = check_health(config, TUESDAY_NOON)
    assert not verdict.ok
    assert "the sender has not started" in verdict.line


def test_deliveries_paused_by_an_unreachable_api_are_unhealthy(tmp_path: Path) -> None:
    """The outage is named with how long it has lasted and what the sender saw."""
    paused = _sender(
        TUESDAY_NOON,
        paused_since=TUESDAY_NOON - timedelta(minutes=4),
        pause_reason="connection refused",
    )
    config = _prepare(
        tmp_path,
        heartbeat=TUESDAY_NOON,
        success=datetime(2024, 6, 10, 21, 40, tzinfo=UTC),
        sender=paused,
    )
    verdict = check_health(config, TUESDAY_NOON)
    assert not verdict.ok
    assert "deliveries paused for 4 min, Telegram unreachable: connection refused" in verdict.line


def test_a_missed_run_is_explained_by_its_first_problem(tmp_path: Path) -> None:
    """A feed that stopped moving holds the job back: health says which and since when."""
    stamp = TUESDAY_NOON - timedelta(hours=1)
    problem = "BTC: no new price since 2024-06-06, 3 sessions behind"
    config = _prepare(
        tmp_path,
        heartbeat=TUESDAY_NOON,
        success=FRIDAY_RUN,
        last_run=LastRun(stamp, stamp, False, 0, date(2024, 6, 6), [problem]),
    )
    verdict = check_health(config, TUESDAY_NOON)
    assert not verdict.ok
    assert verdict.line.endswith(f"has not succeeded (last at 2024-06-07 21:35 UTC); {problem}")
