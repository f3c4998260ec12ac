"""The daily job's core through the store: warm-up, persistence, idempotency, catch-up, bad data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.compose import build_evaluator, build_market_data, refresh_settings
from bot.config import Config
from bot.core.calendar import nyse
from bot.core.engine import PairState
from bot.core.errors import TemporaryDataError
from bot.core.market_data import MarketData
from bot.core.models import Alert, AlertKind, Pair
from bot.core.service import CorrService
from bot.core.sources.synthetic import SyntheticSource
from bot.core.store import Store, StoredAlert
from tests.fakes.market import StepSource
from tests.fakes.outbox import queued_text

HEADLINE = Pair("BTC", "PSCT")
#: The first session of the step market's coupling, the session after the warm-up.
COUPLING = date(2024, 6, 4)


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


def _step_market(config: Config, store: Store, clock: Clock) -> MarketData:
    """Market data from a step market: calm until 2024-06-04, then BTC and PSCT couple."""
    universe, calendar = config.universe, nyse()
    source = StepSource(
        universe.crypto_assets(), universe.equity_assets(), calendar, change=COUPLING
    )
    return MarketData(
        store.prices,
        crypto=universe.crypto_assets(),
        equities=universe.equity_assets(),
        crypto_source=source,
        equity_source=source,
        calendar=calendar,
        clock=clock,
        settings=refresh_settings(config),
        show_progress=False,
    )


def _step_service(tmp_path: Path, store: Store, clock: Clock) -> CorrService:
    config = _config(tmp_path)
    market = _step_market(config, store, clock)
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
    state = PairState.from_json(store.alerts.engine_states(30)[HEADLINE])
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
    before = store.alerts.engine_states(30)
    again = await service.check_now()
    assert again.recorded == []
    assert store.alerts.engine_states(30) == before


async def test_daily_runs_record_what_a_backtest_finds(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    """Run day by day, the live bot records exactly the alerts the engine gives those days."""
    service = _step_service(tmp_path, store, clock)
    await service.check_now()
    start = clock.now
    live: list[Alert] = []
    for count in range(1, 61):
        clock.now = _sessions_later(Clock(start), count)
        live.extend(r.alert for r in (await service.check_now()).recorded)
    assert live, "the coupling from 2024-06-04 on is told"
    assert all(not a.catch_up for a in live)
    # the same engine in backtest mode over the same sessions, starting from the warm state
    config = _config(tmp_path)
    market = _step_market(config, store, clock)
    evaluation = build_evaluator(config).evaluate(
        market.panel().returns, {}, mode="backtest", start=(start + timedelta(days=1)).date()
    )
    told = [a for a, _ in evaluation.alerts]
    assert [(a.key, a.notify, a.episode) for a in live] == [
        (a.key, a.notify, a.episode) for a in told
    ]


async def test_recorded_alerts_are_kept_with_their_message(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    """Every recorded alert can be read back, newest first; its message waits in the outbox."""
    service = _step_service(tmp_path, store, clock)
    await service.check_now()
    start = clock.now
    recorded: list[StoredAlert] = []
    for count in range(1, 51):
        clock.now = _sessions_later(Clock(start), count)
        recorded.extend((await service.check_now()).recorded)
    assert len(recorded) >= 2, "the coupling opens an episode, the move to a new band follows"
    opening, *follow_ups = [s.alert for s in recorded]
    assert opening.kind is AlertKind.SPIKE
    assert (opening.notify, opening.episode) == (True, opening.key)
    assert all((a.notify, a.episode) == (False, opening.key) for a in follow_ups)
    latest = service.recent_alerts(3)
    newest_first = list(reversed(recorded))[: len(latest)]
    assert [s.alert.key for s in latest] == [s.alert.key for s in newest_first]
    assert [(s.alert.notify, s.alert.episode) for s in latest] == [
        (s.alert.notify, s.alert.episode) for s in newest_first
    ]
    assert queued_text(store, latest[0].alert.key).startswith("Follow-up: BTC~PSCT")


async def test_downtime_is_summarized_once(tmp_path: Path, store: Store, clock: Clock) -> None:
    """After many missed sessions the episode that opened meanwhile is told once, as a summary.

    Day by day the same sessions give the opening and its follow-ups; after the gap only
    the opening comes, marked as a catch-up with the last session seen, under its own key
    so that later follow-ups answer it.
    """
    service = _step_service(tmp_path, store, clock)
    await service.check_now()
    before = PairState.from_json(store.alerts.engine_states(30)[HEADLINE])
    assert before.episode is None, "a year of calm opens nothing"
    clock.now = _sessions_later(clock, 120)
    result = await service.check_now()
    after = PairState.from_json(store.alerts.engine_states(30)[HEADLINE])
    assert before.last_session is not None
    assert after.last_session is not None
    [summary] = result.recorded
    alert = summary.alert
    assert alert.kind is AlertKind.SPIKE
    assert alert.direction == "up"
    assert alert.notify
    assert alert.catch_up
    assert alert.since == before.last_session
    assert before.last_session < alert.session < after.last_session
    assert after.episode is not None
    assert after.episode.key == alert.key == alert.episode
    assert queued_text(store, alert.key).startswith(
        "While the bot was offline, BTC started moving with PSCT"
    )
    # run day by day, the same sessions would have told the opening and its follow-ups
    config = _config(tmp_path)
    market = _step_market(config, store, clock)
    evaluation = build_evaluator(config).evaluate(
        market.panel().returns, {}, mode="backtest", start=before.last_session + timedelta(days=1)
    )
    daily = [a for a, _ in evaluation.alerts if a.pair == HEADLINE]
    assert len(daily) >= 2
    assert daily[0].key == alert.key
    assert all(not a.notify for a in daily[1:])


async def test_failed_fetch_produces_no_alert_and_keeps_state(
    tmp_path: Path, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the data could not be had, the pair is held back and nothing is recorded."""
    service = _service(tmp_path, store, clock)
    await service.check_now()
    before = store.alerts.engine_states(30)

    async def failing(self: SyntheticSource, requests: object) -> dict[str, object]:
        return {r.asset.symbol: TemporaryDataError("source down") for r in requests}  # type: ignore[attr-defined]

    monkeypatch.setattr(SyntheticSource, "fetch", failing)
    clock.now = _sessions_later(clock, 5)
    result = await service.check_now()
    assert not result.ok
    assert HEADLINE in result.held_back
    assert result.recorded == []
    assert store.alerts.engine_states(30) == before


async def test_stale_latest_session_holds_the_pair_back(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    """A session whose prices are overdue but absent blocks alerts for that pair."""
    service = _service(tmp_path, store, clock)
    await service.check_now()
    # Next session's close has passed long enough to be expected, but nothing was fetched:
    clock.now = _sessions_later(clock, 1)
    evaluation, _ = service._evaluate()  # evaluate without refreshing
    assert HEADLINE in evaluation.held_back
    assert evaluation.alerts == []


async def test_freshness_between_runs_reads_the_store_and_says_how_far_behind(
    tmp_path: Path, store: Store, clock: Clock
) -> None:
    """Two sessions after the last run, without a refresh, every symbol is frozen."""
    service = _service(tmp_path, store, clock)
    await service.check_now()
    assert [f.problems() for f in service.freshness()] == [[]] * len(service.freshness())
    clock.now = _sessions_later(clock, 2)
    behind = service.freshness()
    assert all(f.frozen and f.behind == 2 for f in behind)
