"""The daily job's core through the store: warm-up, persistence, idempotency, catch-up, bad data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.core.calendar import nyse
from bot.core.engine import PairState
from bot.core.errors import TemporaryDataError
from bot.core.models import AlertKind, Pair
from bot.core.service import CorrService
from bot.core.sources.synthetic import SyntheticSource
from bot.core.store import Store
from bot.wiring import build_evaluator, build_market_data

HEADLINE = Pair("BTC", "PSCT")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _config(tmp_path: Path) -> Config:
    return Config.model_validate(
        {
            "data": {
                "crypto_source": "synthetic",
                "equity_source": "synthetic",
                "history_sessions": 400,
            },
            "storage": {"path": tmp_path / "s.db"},
        }
    )


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 6, 3, 23, 0, tzinfo=UTC))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "s.db")


def _service(tmp_path: Path, store: Store, clock: Clock) -> CorrService:
    config = _config(tmp_path)
    market = build_market_data(config, store, clock, show_progress=False)
    return CorrService(store, market, build_evaluator(config), clock=clock)


def _sessions_later(clock: Clock, count: int) -> datetime:
    closes = nyse().closes(clock.now.date() + timedelta(days=1))
    return closes.iloc[count - 1].to_pydatetime() + timedelta(hours=2)


async def test_first_run_warms_up_without_alerts(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    """A new bot records state and a snapshot but announces nothing from history."""
    service = _service(tmp_path, store, clock)
    result = await service.check_now()
    assert result.ok
    assert result.recorded == []
    state = PairState.from_json(store.engine_states(30)[HEADLINE])
    assert state.last_session is not None
    assert state.last_session.isoformat() == "2024-06-03"
    snapshot = service.snapshot()
    assert snapshot is not None
    assert snapshot.as_of.isoformat() == "2024-06-03"


async def test_running_the_same_day_twice_records_nothing_new(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    """Re-running a session creates no alert and leaves the state as it was."""
    service = _service(tmp_path, store, clock)
    await service.check_now()
    before = store.engine_states(30)
    again = await service.check_now()
    assert again.recorded == []
    assert store.engine_states(30) == before


async def test_daily_runs_record_what_a_backtest_finds(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    """Run day by day, the live bot records exactly the alerts the engine gives those days."""
    service = _service(tmp_path, store, clock)
    await service.check_now()
    start = clock.now
    live = []
    for count in range(1, 61):
        clock.now = _sessions_later(Clock(start), count)
        live.extend(r.alert for r in (await service.check_now()).recorded)
    assert all(not a.catch_up for a in live)
    # the same engine in backtest mode over the same sessions, starting from the warm state
    config = _config(tmp_path)
    market = build_market_data(config, store, clock, show_progress=False)
    evaluation = build_evaluator(config).evaluate(
        market.panel().returns, {}, mode="backtest", start=(start + timedelta(days=1)).date()
    )
    assert [a.key for a in live] == [a.key for a, _ in evaluation.alerts]


async def test_recorded_alerts_are_kept_with_their_message(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    """Every recorded alert can be read back, newest first, with the subscriber's text."""
    service = _service(tmp_path, store, clock)
    await service.check_now()
    start = clock.now
    recorded = []
    for count in range(1, 51):
        clock.now = _sessions_later(Clock(start), count)
        recorded.extend((await service.check_now()).recorded)
    assert len(recorded) >= 2, "seed 7 changes regime twice in these 50 sessions"
    latest = service.recent_alerts(3)
    assert [s.alert.key for s in latest] == [s.alert.key for s in reversed(recorded)][: len(latest)]
    assert latest[0].message.startswith("BTC~PSCT")


async def test_downtime_is_summarized_once(tmp_path: Path, store: Store, clock: Clock) -> None:
    """After many missed sessions every alert is dated today and a regime change is one summary."""
    service = _service(tmp_path, store, clock)
    await service.check_now()
    before = PairState.from_json(store.engine_states(30)[HEADLINE])
    clock.now = _sessions_later(clock, 120)
    result = await service.check_now()
    after = PairState.from_json(store.engine_states(30)[HEADLINE])
    last = after.last_session
    assert all(stored.alert.session == last for stored in result.recorded)
    regime = [s for s in result.recorded if s.alert.kind is AlertKind.REGIME]
    assert before.regime != after.regime, "seed 7 changes regime in these 120 sessions"
    assert len(regime) == 1
    assert regime[0].alert.catch_up
    assert regime[0].alert.since == before.last_session
    assert regime[0].message.startswith("While the bot was offline, BTC~PSCT moved from")


async def test_failed_fetch_produces_no_alert_and_keeps_state(
    tmp_path: Path, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the data could not be had, the pair is held back and nothing is recorded."""
    service = _service(tmp_path, store, clock)
    await service.check_now()
    before = store.engine_states(30)

    async def failing(self: SyntheticSource, requests: object) -> dict[str, object]:
        return {r.asset.symbol: TemporaryDataError("source down") for r in requests}  # type: ignore[attr-defined]

    monkeypatch.setattr(SyntheticSource, "fetch", failing)
    clock.now = _sessions_later(clock, 5)
    result = await service.check_now()
    assert not result.ok
    assert HEADLINE in result.held_back
    assert result.recorded == []
    assert store.engine_states(30) == before


async def test_stale_latest_session_holds_the_pair_back(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    """A session whose prices are overdue but absent blocks alerts for that pair."""
    service = _service(tmp_path, store, clock)
    await service.check_now()
    # Next session's close has passed long enough to be expected, but nothing was fetched:
    clock.now = _sessions_later(clock, 1)
    evaluation = service._evaluate()  # evaluate without refreshing
    assert HEADLINE in evaluation.held_back
    assert evaluation.alerts == []
