"""Judging the running bot from its store: one finding per check, in the order they run.

Each test writes a store as a running bot leaves it (``store.meta``: ``beat``, ``swap_lease``,
``record_run``), healthy in every check before the one it breaks, and reads the verdict of
:func:`bot.core.health.assess`. ``corrbot health``'s wording is tested in test_cli_health.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from bot.core.calendar import nyse
from bot.core.health import Finding, HealthLimits, Verdict, assess
from bot.core.schedule import DailySchedule
from bot.core.sender_lease import SenderState
from bot.core.store import Store
from bot.core.store.meta import LastRun

#: Tuesday 2024-06-11, 16:00 UTC (noon in New York): Monday's 17:30 run is past its retries.
NOW = datetime(2024, 6, 11, 16, 0, tzinfo=UTC)
MONDAY_RUN = datetime(2024, 6, 10, 21, 30, tzinfo=UTC)  # 17:30 EDT, the run due by NOW
MONDAY_DONE = MONDAY_RUN + timedelta(minutes=10)
FRIDAY_DONE = datetime(2024, 6, 7, 21, 40, tzinfo=UTC)
SCHEDULE = DailySchedule(dt.time(17, 30), "America/New_York", nyse())
LIMITS = HealthLimits(
    heartbeat=timedelta(minutes=5), poll=timedelta(seconds=30), retry_window=timedelta(hours=6)
)


def _sender(renewed: datetime, **changes: Any) -> SenderState:
    """A sender that renewed its lease at ``renewed``, valid two minutes from then."""
    return SenderState(
        "host:1:ab",
        renewed - timedelta(hours=1),
        renewed,
        renewed + timedelta(minutes=2),
        **changes,
    )


#: The sender of a healthy bot: renewed its lease just now.
LIVE_SENDER = _sender(NOW)


def _assess(
    tmp_path: Path,
    *,
    heartbeat: datetime | None = NOW,
    polled: datetime | Literal["heartbeat"] | None = "heartbeat",
    sender: SenderState | None = LIVE_SENDER,
    success: datetime | None = MONDAY_DONE,
    last_run: LastRun | None = None,
) -> Verdict:
    """The verdict at :data:`NOW` on a store written as given (by default a healthy one)."""
    with Store.open(tmp_path / "bot.sqlite3") as store:
        if heartbeat is not None:
            store.meta.beat(heartbeat, polled_at=heartbeat if polled == "heartbeat" else polled)
        if sender is not None:
            store.meta.swap_lease(lambda _stored: sender.to_json())
        if success is not None:
            store.meta.record_run(LastRun(success, success, True, 0, None))
        if last_run is not None:
            store.meta.record_run(last_run)
        return assess(store.meta, SCHEDULE, LIMITS, NOW)


def test_a_bot_well_in_every_check_is_healthy(tmp_path: Path) -> None:
    """No finding; the verdict carries the heartbeat's age and the last success."""
    verdict = _assess(tmp_path, heartbeat=NOW - timedelta(seconds=30))
    assert verdict == Verdict(None, timedelta(seconds=30), MONDAY_DONE)
    assert verdict.ok


def test_no_heartbeat(tmp_path: Path) -> None:
    """A store no running bot ever beat in: no_heartbeat, the last success still told."""
    verdict = _assess(tmp_path, heartbeat=None, sender=None)
    assert verdict == Verdict(Finding("no_heartbeat"), None, MONDAY_DONE)
    assert not verdict.ok


def test_a_heartbeat_older_than_the_limit(tmp_path: Path) -> None:
    """Ten minutes without a beat, the limit five: heartbeat_old with its age."""
    verdict = _assess(tmp_path, heartbeat=NOW - timedelta(minutes=10))
    assert verdict.finding == Finding("heartbeat_old", age=timedelta(minutes=10))


def test_a_heartbeat_too_far_in_the_future(tmp_path: Path) -> None:
    """A beat ten minutes ahead of this clock: heartbeat_future, how far ahead."""
    verdict = _assess(tmp_path, heartbeat=NOW + timedelta(minutes=10))
    assert verdict.finding == Finding("heartbeat_future", age=timedelta(minutes=10))


def test_a_heartbeat_a_little_ahead_is_no_finding(tmp_path: Path) -> None:
    """Skew within the limit either way is tolerated."""
    assert _assess(tmp_path, heartbeat=NOW + timedelta(minutes=4)).ok


def test_never_polled(tmp_path: Path) -> None:
    """Beating, but Telegram never answered a poll: never_polled."""
    verdict = _assess(tmp_path, polled=None)
    assert verdict.finding == Finding("never_polled")


def test_polling_stuck_beyond_heartbeat_and_poll_limits(tmp_path: Path) -> None:
    """The last poll answered 6 min ago, beyond heartbeat + poll (5.5 min): polling_stuck."""
    verdict = _assess(tmp_path, polled=NOW - timedelta(minutes=6))
    assert verdict.finding == Finding("polling_stuck", age=timedelta(minutes=6))
    assert _assess(tmp_path, polled=NOW - timedelta(minutes=5)).ok, "within the limit"


def test_sender_not_started(tmp_path: Path) -> None:
    """No lease row at all: sender_not_started."""
    verdict = _assess(tmp_path, sender=None)
    assert verdict.finding == Finding("sender_not_started")


def test_sender_not_running(tmp_path: Path) -> None:
    """A lease last renewed 5 min ago has expired: sender_not_running, since when."""
    verdict = _assess(tmp_path, sender=_sender(NOW - timedelta(minutes=5)))
    assert verdict.finding == Finding("sender_not_running", age=timedelta(minutes=5))


def test_a_released_lease_is_a_sender_not_running(tmp_path: Path) -> None:
    """A lease given back (the sender stopped) is no running sender, however recent."""
    stopped = _sender(NOW - timedelta(seconds=10), released=True)
    verdict = _assess(tmp_path, sender=stopped)
    assert verdict.finding == Finding("sender_not_running", age=timedelta(seconds=10))


def test_sender_paused(tmp_path: Path) -> None:
    """A live sender paused 4 min ago by an outage: sender_paused, how long and why."""
    paused = _sender(
        NOW, paused_since=NOW - timedelta(minutes=4), pause_reason="NetworkError: refused"
    )
    verdict = _assess(tmp_path, sender=paused)
    assert verdict.finding == Finding(
        "sender_paused", age=timedelta(minutes=4), reason="NetworkError: refused"
    )


def test_job_missed_with_its_first_problem(tmp_path: Path) -> None:
    """Monday's run never succeeded: job_missed, the run due, the last success, why."""
    stamp = NOW - timedelta(hours=1)
    problems = ["BTC: no new price since 2024-06-06", "PSCT: fetch_failed"]
    failed = LastRun(stamp, stamp, False, 0, date(2024, 6, 6), problems)
    verdict = _assess(tmp_path, success=FRIDAY_DONE, last_run=failed)
    assert verdict.finding == Finding(
        "job_missed", due=MONDAY_RUN, last_ok=FRIDAY_DONE, reason=problems[0]
    )


def test_job_missed_without_any_success(tmp_path: Path) -> None:
    """No run on record at all once one is due: job_missed with no last success nor reason."""
    verdict = _assess(tmp_path, success=None)
    assert verdict.finding == Finding("job_missed", due=MONDAY_RUN)
    assert verdict.last_success is None


def test_the_first_failing_check_is_the_finding(tmp_path: Path) -> None:
    """Everything wrong at once: the heartbeat is named, the checks after it are not run."""
    verdict = _assess(
        tmp_path, heartbeat=NOW - timedelta(hours=1), polled=None, sender=None, success=None
    )
    assert verdict.finding == Finding("heartbeat_old", age=timedelta(hours=1))
