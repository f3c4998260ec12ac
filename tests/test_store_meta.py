"""The small facts kept between runs: the last runs, the heartbeat, the 429 pause, the lease.

Each is read through a typed accessor; a value that cannot be read is logged and taken as
absent, so that ``health`` says "no heartbeat" instead of crashing.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.core.store import Store
from bot.core.store.meta import LastRun

NOW = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)


def _run(*, ok: bool, finished_at: datetime = NOW) -> LastRun:
    return LastRun(
        started_at=finished_at - timedelta(minutes=3),
        finished_at=finished_at,
        ok=ok,
        alerts=2 if ok else 0,
        as_of=date(2024, 12, 3),
        problems=[] if ok else ["BTC: every exchange failed"],
    )


def _write_raw(store: Store, key: str, value: str) -> None:
    """Store ``value`` under ``key`` as a hand edit or a broken version would."""
    with store.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))


# ---- the last runs --------------------------------------------------------------------------


def test_a_run_that_went_well_is_the_last_run_and_the_last_success(tmp_path: Path) -> None:
    """``/status`` shows it both as what happened last and as the last time all went well."""
    run = _run(ok=True)
    with Store.open(tmp_path / "s.db") as store:
        store.meta.record_run(run)
        last_run, last_success = store.meta.last_run(), store.meta.last_success()
    assert (last_run, last_success) == (run, run)


def test_a_run_with_problems_is_the_last_run_only(tmp_path: Path) -> None:
    """A failing run after a good one leaves the good one as the last success."""
    good = _run(ok=True)
    bad = _run(ok=False, finished_at=NOW + timedelta(days=1))
    with Store.open(tmp_path / "s.db") as store:
        store.meta.record_run(good)
        store.meta.record_run(bad)
        last_run, last_success = store.meta.last_run(), store.meta.last_success()
    assert (last_run, last_success) == (bad, good)


def test_a_last_run_round_trips_through_json() -> None:
    """Its instants (in any zone) and its session date read back equal, its problems too."""
    new_york = timezone(timedelta(hours=-5))
    run = LastRun(
        started_at=datetime(2024, 12, 3, 17, 0, 5, tzinfo=new_york),
        finished_at=datetime(2024, 12, 3, 22, 1, 40, tzinfo=UTC),
        ok=False,
        alerts=3,
        as_of=date(2024, 12, 3),
        problems=["PSCT: no close for 2024-12-03", "ETH: stale"],
    )
    assert LastRun.from_json(run.to_json()) == run


def test_a_last_run_without_a_session_round_trips_through_json() -> None:
    """A run that failed before it knew its session reads back with none."""
    run = LastRun(started_at=NOW, finished_at=NOW, ok=False, alerts=0, as_of=None)
    assert LastRun.from_json(run.to_json()) == run


def test_an_unreadable_last_run_reads_as_none_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A last run that is not a run record is taken as absent, with a warning."""
    with Store.open(tmp_path / "s.db") as store:
        _write_raw(store, "last_run", "{not json")
        with caplog.at_level(logging.WARNING, logger="bot.core.store.meta"):
            last_run = store.meta.last_run()
    assert last_run is None
    assert "unreadable last_run" in caplog.text


# ---- the running bot's signs of life ----------------------------------------------------------


def test_a_beat_writes_the_heartbeat_and_leaves_the_last_poll_alone(tmp_path: Path) -> None:
    """A beat while Telegram does not answer keeps when it last did."""
    polled = NOW - timedelta(minutes=5)
    with Store.open(tmp_path / "s.db") as store:
        store.meta.beat(polled, polled_at=polled)
        store.meta.beat(NOW)
        heartbeat, polled_at = store.meta.heartbeat(), store.meta.polled_at()
    assert (heartbeat, polled_at) == (NOW, polled)


def test_a_beat_given_the_last_poll_writes_it_too(tmp_path: Path) -> None:
    """The heartbeat and the last normal poll are written together."""
    polled = NOW - timedelta(seconds=30)
    with Store.open(tmp_path / "s.db") as store:
        store.meta.beat(NOW, polled_at=polled)
        heartbeat, polled_at = store.meta.heartbeat(), store.meta.polled_at()
    assert (heartbeat, polled_at) == (NOW, polled)


def test_an_unreadable_heartbeat_reads_as_none_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A heartbeat that is not an instant is taken as absent, with a warning."""
    with Store.open(tmp_path / "s.db") as store:
        _write_raw(store, "heartbeat", "not an instant")
        with caplog.at_level(logging.WARNING, logger="bot.core.store.meta"):
            heartbeat = store.meta.heartbeat()
    assert heartbeat is None
    assert "unreadable heartbeat" in caplog.text


def test_a_heartbeat_written_without_its_zone_reads_as_none(tmp_path: Path) -> None:
    """A hand-written local time (no zone) cannot be placed in time: absent, not a crash."""
    with Store.open(tmp_path / "s.db") as store:
        _write_raw(store, "heartbeat", "2024-12-03 22:00")
        assert store.meta.heartbeat() is None


def test_an_unreadable_snapshot_reads_as_none_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A damaged snapshot makes /corr say "not computed yet" until the next run, not crash."""
    with Store.open(tmp_path / "s.db") as store:
        _write_raw(store, "snapshot", '{"as_of": "2024-12-03"}')
        with caplog.at_level(logging.WARNING, logger="bot.core.store.meta"):
            snapshot = store.meta.snapshot()
    assert snapshot is None
    assert "unreadable snapshot" in caplog.text


# ---- Telegram's flood control -----------------------------------------------------------------


def test_a_later_pause_extends_the_stored_one(tmp_path: Path) -> None:
    """A second 429 asking for a longer wait moves the end of the pause later."""
    with Store.open(tmp_path / "s.db") as store:
        store.meta.extend_pause(NOW + timedelta(seconds=30))
        store.meta.extend_pause(NOW + timedelta(minutes=5))
        until = store.meta.pause_until()
    assert until == NOW + timedelta(minutes=5)


def test_an_earlier_pause_does_not_shorten_the_stored_one(tmp_path: Path) -> None:
    """A 429 asking for a shorter wait than the one in force leaves the pause as it is."""
    with Store.open(tmp_path / "s.db") as store:
        store.meta.extend_pause(NOW + timedelta(minutes=5))
        store.meta.extend_pause(NOW + timedelta(seconds=30))
        until = store.meta.pause_until()
    assert until == NOW + timedelta(minutes=5)


# ---- the sender lease -------------------------------------------------------------------------


def test_a_lease_swap_sees_the_stored_lease_and_writes_what_it_returns(tmp_path: Path) -> None:
    """The update is given the lease as stored (none at first); its answer is stored."""
    seen: list[str | None] = []

    def update(stored: str | None) -> str:
        seen.append(stored)
        return f'{{"holder": {len(seen)}}}'

    with Store.open(tmp_path / "s.db") as store:
        wrote = [store.meta.swap_lease(update), store.meta.swap_lease(update)]
        lease = store.meta.lease()
    assert wrote == [True, True]
    assert seen == [None, '{"holder": 1}']
    assert lease == '{"holder": 2}'


def test_a_lease_swap_that_returns_nothing_writes_nothing(tmp_path: Path) -> None:
    """A lease held by another process is left as it is, and the swap says so."""
    with Store.open(tmp_path / "s.db") as store:
        store.meta.swap_lease(lambda _stored: '{"holder": "other"}')
        wrote = store.meta.swap_lease(lambda _stored: None)
        lease = store.meta.lease()
    assert wrote is False
    assert lease == '{"holder": "other"}'
