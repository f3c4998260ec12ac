"""Market data failing: exchanges down, Yahoo rate limits, stale or broken prices.

Each case runs the daily job's core (``CorrService.check_now``: refresh, evaluate, record)
over a real store with real sources or the source seam, and checks the guarantees the bot
makes: a pair whose data is missing, late or broken is held back, nothing is announced from
it, the engine state does not move, and the next good run catches up (after several missed
sessions, with at most one summary per pair). The last tests run the bot's job path
(``bot.tg.jobs.run_daily_job``) and check what the admins are told.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
from yfinance.exceptions import YFRateLimitError

from bot.compose import build_evaluator, build_market_data, refresh_settings
from bot.config import Config
from bot.core.calendar import nyse
from bot.core.engine import PairState
from bot.core.errors import TemporaryDataError
from bot.core.market_data import MarketData
from bot.core.models import AlertKind, Pair, QualityKind
from bot.core.service import CheckResult, CorrService
from bot.core.sources.base import FetchRequest, FetchResults, Observations, PriceSource
from bot.core.sources.ccxt_source import CcxtSource
from bot.core.sources.synthetic import SyntheticSource
from bot.core.sources.yfinance_source import YFinanceSource
from bot.core.store import Store, StoredAlert, format_ts
from tests.fakes.bot_harness import ADMIN, RunningBot, record_daily_retries, running_bot, until
from tests.fakes.exchange import FakeExchanges
from tests.fakes.market import StepSource, write_csv_market
from tests.fakes.outbox import queued_text

HEADLINE = Pair("BTC", "PSCT")
WINDOW = 30
SUBSCRIBER = 1001
#: Monday 2024-06-03, 23:00 UTC: that session closed (20:00 UTC) three hours ago.
START = datetime(2024, 6, 3, 23, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sessions_later(self, count: int) -> None:
        """Move to two hours after the close of the ``count``-th next session."""
        closes = nyse().closes(self.now.date() + timedelta(days=1))
        self.now = closes.iloc[count - 1].to_pydatetime() + timedelta(hours=2)


def _config(tmp_path: Path, **data: Any) -> Config:
    return Config.model_validate(
        {
            "data": {
                "crypto_source": "synthetic",
                "equity_source": "synthetic",
                "history_sessions": 400,
                **data,
            },
            "storage": {"path": tmp_path / "s.db"},
        }
    )


def _market(
    config: Config,
    store: Store,
    clock: Clock,
    *,
    crypto: PriceSource | None = None,
    equities: PriceSource | None = None,
) -> MarketData:
    """MarketData as the wiring builds it, with either source replaced (the seam)."""
    calendar = nyse()
    universe = config.universe
    synthetic = SyntheticSource(
        universe.crypto_assets(), universe.equity_assets(), calendar, seed=7
    )
    return MarketData(
        store.prices,
        crypto=universe.crypto_assets(),
        equities=universe.equity_assets(),
        crypto_source=crypto or synthetic,
        equity_source=equities or synthetic,
        calendar=calendar,
        clock=clock,
        settings=refresh_settings(config),
        show_progress=False,
    )


def _service(config: Config, store: Store, market: MarketData, clock: Clock) -> CorrService:
    return CorrService(store, market, build_evaluator(config), clock=clock)


def _state(store: Store) -> PairState:
    return PairState.from_json(store.alerts.engine_states(WINDOW)[HEADLINE])


def _open(config: Config, clock: Clock) -> Store:
    """The store, with one subscriber so that any alert would show up as a delivery."""
    store = Store.open(config.storage.path)
    store.subscribers.subscribe(SUBSCRIBER, kind="private", title="", thread_id=None, now=clock())
    return store


def _counts(store: Store) -> tuple[int, int, int]:
    """(alerts, alert messages, alert deliveries) on record; the daily digest is not an alert."""
    alerts = store.query("SELECT COUNT(*) FROM alerts")[0][0]
    outbound = store.query("SELECT COUNT(*) FROM outbound WHERE kind != 'digest'")[0][0]
    deliveries = store.query(
        "SELECT COUNT(*) FROM deliveries d JOIN outbound o ON o.id = d.outbound_id "
        "WHERE o.kind != 'digest'"
    )[0][0]
    return int(str(alerts)), int(str(outbound)), int(str(deliveries))


def _assert_held_back_quietly(
    result: CheckResult, store: Store, before: tuple[dict[Pair, str], tuple[int, int, int]]
) -> None:
    """The pair was held back and nothing else moved: no alert, no delivery, same state."""
    states, counts = before
    assert HEADLINE in result.held_back
    assert not result.ok
    assert result.recorded == []
    assert store.alerts.engine_states(WINDOW) == states
    assert _counts(store) == counts


def _snapshot_of(store: Store) -> tuple[dict[Pair, str], tuple[int, int, int]]:
    return store.alerts.engine_states(WINDOW), _counts(store)


def _assert_caught_up(result: CheckResult, store: Store) -> None:
    """A good run evaluated the latest session; what the missed days gave comes as a summary.

    Every alert is of the latest session, or the catch-up summary of an episode that opened
    meanwhile (dated the session it opened, with the last session seen before the gap), or
    the silent end of the episode before it. At most one pushes per pair.
    """
    assert result.ok, result.problems()
    assert result.snapshot is not None
    latest = result.snapshot.as_of
    assert _state(store).last_session == latest
    for stored in result.recorded:
        alert = stored.alert
        assert alert.session <= latest
        if alert.catch_up:
            assert alert.notify
            assert alert.since is not None
            assert alert.since < alert.session
        elif alert.session != latest:
            assert not alert.notify, "only a summary pushes news of an earlier session"
    per_kind = [(s.alert.pair, s.alert.kind) for s in result.recorded]
    assert len(per_kind) == len(set(per_kind)), "at most one alert per pair and kind"
    pushed = [s.alert.pair for s in result.recorded if s.alert.notify]
    assert len(pushed) == len(set(pushed)), "at most one push per pair"
    for stored in result.recorded:  # each with its delivery to the subscriber
        rows = store.query(
            "SELECT d.chat_id, d.silent FROM deliveries d JOIN outbound o "
            "ON o.id = d.outbound_id WHERE o.alert_id = ?",
            [stored.id],
        )
        assert [int(str(r[0])) for r in rows] == [SUBSCRIBER]
        assert [bool(r[1]) for r in rows] == [not stored.alert.notify]


# ---- the source seam ---------------------------------------------------------------------


class Switchable(PriceSource):
    """Wraps a source; ``down`` makes it fail like a network outage, ``lag`` hides new days."""

    name: ClassVar[str] = "switchable"
    intraday: ClassVar[bool] = True

    def __init__(self, inner: PriceSource) -> None:
        self.inner = inner
        self.down = False
        self.published_until: pd.Timestamp | None = None  # instants after this are absent
        self.calls = 0

    async def fetch(self, requests: Sequence[FetchRequest]) -> FetchResults:
        self.calls += 1
        if self.down:
            return {
                r.asset.symbol: TemporaryDataError(f"{r.asset.symbol}: source unreachable")
                for r in requests
            }
        results = dict(await self.inner.fetch(requests))
        if self.published_until is not None:
            for symbol, found in results.items():
                if isinstance(found, Observations):
                    kept = found.closes[found.closes.index <= self.published_until]
                    results[symbol] = Observations(symbol, kept, found.origin)
        return results


#: The step market's first coupled session: the session after :data:`START`.
COUPLING = date(2024, 6, 4)


def _step_market(config: Config) -> StepSource:
    """Calm for years, then BTC and PSCT couple from :data:`COUPLING` on: alerts are certain."""
    return StepSource(
        config.universe.crypto_assets(),
        config.universe.equity_assets(),
        nyse(),
        change=COUPLING,
    )


def _switchable_market(config: Config) -> Switchable:
    """The seeded synthetic market of ``config``, able to go down or lag on demand."""
    return Switchable(
        SyntheticSource(
            config.universe.crypto_assets(), config.universe.equity_assets(), nyse(), seed=7
        )
    )


# ---- ccxt: fallback and every exchange down ----------------------------------------------


@pytest.fixture
async def exchanges() -> AsyncIterator[FakeExchanges]:
    fake = await FakeExchanges(now=START, page_size=1000).start()
    yield fake
    await fake.close()


def _ccxt(fake: FakeExchanges) -> CcxtSource:
    return CcxtSource(["kraken", "bitstamp"], clock=lambda: fake.now, exchange_factory=fake.factory)


async def test_first_exchange_down_falls_back_to_the_second(
    tmp_path: Path, exchanges: FakeExchanges
) -> None:
    """With the first exchange geo-blocked, crypto comes from the second and says so."""
    exchanges.geo_block("kraken")
    config = _config(tmp_path, history_sessions=120)
    clock = Clock()
    with _open(config, clock) as store:
        market = _market(config, store, clock, crypto=_ccxt(exchanges))
        service = _service(config, store, market, clock)
        try:
            result = await service.check_now()
            statuses = {s.asset.symbol: s for s in service.data_status()}
        finally:
            await service.close()
        assert result.ok, result.problems()
        for symbol in ("BTC", "ETH"):
            assert store.prices.sources(symbol) == ["ccxt:bitstamp"]
            assert statuses[symbol].source == "ccxt:bitstamp"
            assert statuses[symbol].last_session == date(2024, 6, 3)
            assert statuses[symbol].error is None
    assert exchanges.ohlc_requests("bitstamp"), "the second exchange served the candles"


async def test_every_exchange_down_holds_the_pair_back_then_catches_up(
    tmp_path: Path, exchanges: FakeExchanges
) -> None:
    """All exchanges down: a temporary error, no alert, same state; the next good run catches up."""
    config = _config(tmp_path, history_sessions=120)
    clock = Clock()
    with _open(config, clock) as store:
        market = _market(config, store, clock, crypto=_ccxt(exchanges))
        service = _service(config, store, market, clock)
        try:
            assert (await service.check_now()).ok
            before = _snapshot_of(store)
            clock.sessions_later(3)
            exchanges.now = clock.now
            exchanges.geo_block("kraken")
            exchanges.hang("bitstamp")
            down = await service.check_now()
            _assert_held_back_quietly(down, store, before)
            error = down.refresh.errors["BTC"]
            assert isinstance(error, TemporaryDataError)
            assert "kraken" in str(error)
            assert "bitstamp" in str(error)
            kinds = {issue.kind for issue in down.held_back[HEADLINE]}
            assert QualityKind.FETCH_FAILED in kinds
            assert down.stale, "a failed fetch is worth retrying soon"
            last_run = service.last_run()
            assert last_run is not None
            assert not last_run.ok
            assert any("BTC" in line for line in last_run.problems)

            exchanges.faults.clear()
            clock.sessions_later(2)
            exchanges.now = clock.now
            again = await service.check_now()
        finally:
            await service.close()
        _assert_caught_up(again, store)


# ---- a long outage: held back every day, then one summary --------------------------------


async def test_long_outage_is_held_back_daily_then_summarized_once(tmp_path: Path) -> None:
    """Crypto down for many sessions: nothing each day, then the coupling told once."""
    config = _config(tmp_path)
    clock = Clock()
    with _open(config, clock) as store:
        market = _step_market(config)
        crypto = Switchable(market)
        service = _service(
            config, store, _market(config, store, clock, crypto=crypto, equities=market), clock
        )
        assert (await service.check_now()).ok
        warm = _state(store)
        before = _snapshot_of(store)
        crypto.down = True
        for _ in range(4):  # four daily runs during the outage
            clock.sessions_later(30)
            _assert_held_back_quietly(await service.check_now(), store, before)
        crypto.down = False
        clock.sessions_later(1)
        result = await service.check_now()
        _assert_caught_up(result, store)
        after = _state(store)
        told = [queued_text(store, stored.alert.key) for stored in result.recorded]
    assert warm.episode is None, "years of calm open nothing"
    [summary] = result.recorded
    assert summary.alert.kind is AlertKind.SPIKE
    assert summary.alert.catch_up
    assert summary.alert.since == warm.last_session
    assert summary.alert.session >= COUPLING
    assert after.episode is not None
    assert after.episode.key == summary.alert.key, "follow-ups will answer the summary"
    assert told[0].startswith("While the bot was offline, BTC started moving with PSCT")


async def test_a_first_run_held_back_as_stale_then_recovered_tells_the_change_once(
    tmp_path: Path,
) -> None:
    """The very first run finds PSCT late; weeks later it recovers: the coupling is told once.

    The held-back first run warms up silently on the sessions before the late one, so the
    run that recovers catches up as after downtime instead of warming up over the change.
    """
    config = _config(tmp_path)
    clock = Clock()
    with _open(config, clock) as store:
        market = _step_market(config)
        equities = Switchable(market)
        equities.published_until = pd.Timestamp(clock.now) - pd.Timedelta(days=1)
        service = _service(
            config, store, _market(config, store, clock, crypto=market, equities=equities), clock
        )
        first = await service.check_now()
        assert HEADLINE in first.held_back
        assert first.recorded == []
        warm = _state(store)
        clock.sessions_later(25)
        equities.published_until = None
        result = await service.check_now()
        _assert_caught_up(result, store)
    assert warm.last_session == date(2024, 5, 31), "warmed up to the session before the late one"
    assert warm.episode is None
    pushed = [s.alert for s in result.recorded if s.alert.notify]
    assert [(a.kind, a.catch_up) for a in pushed] == [(AlertKind.SPIKE, True)]
    assert pushed[0].since == warm.last_session
    assert pushed[0].session >= COUPLING


# ---- Yahoo Finance: rate limits and empty answers ----------------------------------------


def _yahoo_rate_limit_raised(tickers: list[str], **_: Any) -> pd.DataFrame:
    raise YFRateLimitError


def _yahoo_rate_limit_logged(tickers: list[str], **_: Any) -> pd.DataFrame:
    """Yfinance 1.x swallows the rate limit, logs it per ticker and returns nothing."""
    log = logging.getLogger("yfinance")
    log.error("\n%d Failed downloads:", len(tickers))
    for ticker in tickers:
        log.error("['%s']: YFRateLimitError('Too Many Requests. Rate limited.')", ticker)
    return pd.DataFrame()


def _yahoo_empty(tickers: list[str], **_: Any) -> pd.DataFrame:
    return pd.DataFrame()


async def _no_sleep(_seconds: float) -> None:
    return None


@pytest.mark.parametrize(
    ("download", "said"),
    [
        (_yahoo_rate_limit_raised, "rate-limited"),
        (_yahoo_rate_limit_logged, "rate-limited"),
        (_yahoo_empty, "returned no prices"),
    ],
    ids=["rate-limit-raised", "rate-limit-logged", "empty-frame"],
)
async def test_yahoo_failure_holds_the_pair_back_then_catches_up(
    tmp_path: Path, download: Callable[..., pd.DataFrame], said: str
) -> None:
    """Yahoo rate limiting or answering nothing: no alert, same state; later runs catch up."""
    config = _config(tmp_path)
    clock = Clock()
    with _open(config, clock) as store:
        assert (await _service(config, store, _market(config, store, clock), clock).check_now()).ok
        before = _snapshot_of(store)
        yahoo = YFinanceSource(nyse(), clock=clock, download=download, sleep=_no_sleep)
        clock.sessions_later(10)
        result = await _service(
            config, store, _market(config, store, clock, equities=yahoo), clock
        ).check_now()
        _assert_held_back_quietly(result, store, before)
        for symbol in ("PSCT", "IWM", "QQQ"):
            error = result.refresh.errors[symbol]
            assert isinstance(error, TemporaryDataError)
            assert said in str(error)
        assert "BTC" not in result.refresh.errors, "the crypto source was not affected"
        assert result.stale
        clock.sessions_later(1)
        again = await _service(config, store, _market(config, store, clock), clock).check_now()
        _assert_caught_up(again, store)


# ---- stale: the source simply lacks the latest session -----------------------------------


async def test_missing_latest_session_is_stale_and_retried(tmp_path: Path) -> None:
    """A source that has not published the day yet: STALE, held back, stale; later processed."""
    config = _config(tmp_path)
    clock = Clock()
    with _open(config, clock) as store:
        equities = _switchable_market(config)
        service = _service(config, store, _market(config, store, clock, equities=equities), clock)
        assert (await service.check_now()).ok
        before = _snapshot_of(store)
        equities.published_until = pd.Timestamp(clock.now)  # nothing after 2024-06-03
        clock.sessions_later(1)
        late = await service.check_now()
        _assert_held_back_quietly(late, store, before)
        assert late.refresh.ok, "the source answered: nothing failed, the day is just absent"
        [stale] = [i for i in late.held_back[HEADLINE] if i.kind is QualityKind.STALE]
        assert stale.symbol == "PSCT"
        assert stale.sessions == (date(2024, 6, 4),)
        assert late.stale, "the job retries stale data"
        assert any("stale" in line for line in late.problems())
        equities.published_until = None  # the retry, once the day is published
        retried = await service.check_now()
        _assert_caught_up(retried, store)
        assert _state(store).last_session == date(2024, 6, 4)


async def test_a_feed_that_stops_is_frozen_once_a_whole_session_went_by(tmp_path: Path) -> None:
    """PSCT stops after 2024-06-03: late the next day, frozen the day after, with one key.

    The key names the last price, so the job tells the admins once however long it lasts.
    """
    config = _config(tmp_path)
    clock = Clock()
    with _open(config, clock) as store:
        equities = _switchable_market(config)
        service = _service(config, store, _market(config, store, clock, equities=equities), clock)
        assert (await service.check_now()).frozen == ()
        equities.published_until = pd.Timestamp(clock.now)
        clock.sessions_later(1)
        late = await service.check_now()
        assert late.frozen == ()
        assert "PSCT: no new price since 2024-06-03, 1 session behind" in late.problems()
        clock.sessions_later(1)
        frozen = await service.check_now()
        clock.sessions_later(1)
        still = await service.check_now()
    assert [f.symbol for f in frozen.frozen] == ["PSCT", "IWM", "QQQ"]  # the equity feed
    assert "PSCT: no new price since 2024-06-03, 2 sessions behind" in frozen.problems()
    assert [f.notice_key for f in still.frozen] == [f.notice_key for f in frozen.frozen]
    assert frozen.frozen[0].notice_key == "frozen:PSCT:2024-06-03"


async def test_holes_lost_from_the_cache_are_reported_then_fetched_again(tmp_path: Path) -> None:
    """Two PSCT sessions absent behind later ones: "still missing", then the refresh fills them."""
    config = _config(tmp_path)
    clock = Clock()
    with _open(config, clock) as store:
        market = _market(config, store, clock)
        service = _service(config, store, market, clock)
        await service.check_now()
        clock.sessions_later(6)
        await service.check_now()
        closes = nyse().closes(date(2024, 6, 4), date(2024, 6, 5))
        with store.transaction() as conn:
            conn.executemany(
                "DELETE FROM prices WHERE symbol = 'PSCT' AND ts = ?",
                [(format_ts(ts),) for ts in closes],
            )
        [holes] = [f for f in market.freshness() if f.symbol == "PSCT"]
        status = {s.asset.symbol: s for s in service.data_status()}["PSCT"]
        filled = await service.check_now()
        after = {s.asset.symbol: s for s in service.data_status()}["PSCT"]
    assert holes.problems() == [
        "PSCT: 2 sessions still missing (being fetched again): 2024-06-04, 2024-06-05"
    ]
    assert status.pending == (date(2024, 6, 4), date(2024, 6, 5))
    assert status.stale_sessions == 0, "fresh, yet with holes: both are shown"
    assert not any("still missing" in line for line in filled.problems())
    assert after.pending == ()


# ---- broken prices: negative, zero or not a number ---------------------------------------


def _write_csv(folder: Path, ticker: str, rows: list[str]) -> None:
    (folder / f"{ticker}.csv").write_text("date,close\n" + "\n".join(rows) + "\n")


#: Sessions of the CSV market, and the first one where BTC and PSCT move together: a year
#: and more of calm first, so the change test has its baseline.
CSV_SESSIONS, CSV_COUPLED_FROM = 400, 320


def _csv_sessions() -> list[date]:
    return [ts.date() for ts in nyse().recent_closes(CSV_SESSIONS, START).index]


def _csv_config(tmp_path: Path, sessions: list[date]) -> tuple[Config, dict[str, list[str]]]:
    """Uncorrelated returns, then BTC and PSCT moving together; returns each file's rows."""
    folder = tmp_path / "prices"
    files = write_csv_market(folder, sessions, CSV_COUPLED_FROM)
    config = _config(
        tmp_path,
        crypto_source="csv",
        equity_source="csv",
        csv_dir=str(folder),
        history_sessions=len(sessions),
    )
    return config, files


def _at(day: date, hours: float) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hours)


#: Daily-only crypto closes at 00:00 UTC after the session: the tests on CSV data run at
#: 02:00 UTC, once the session's crypto close exists (the test of 17:30 runs is below).
AFTER_MIDNIGHT = 26


@pytest.mark.parametrize("bad", ["-3.5", "0", "nan"])
async def test_broken_latest_price_blocks_the_alert_it_would_give(tmp_path: Path, bad: str) -> None:
    """A bad close on the last day blocks the pair (BAD_PRICE shown); once fixed, it alerts."""
    last = date(2024, 6, 3)
    sessions = _csv_sessions()
    assert sessions[-1] == last
    config, files = _csv_config(tmp_path, sessions)
    folder = tmp_path / "prices"
    clock = Clock(_at(sessions[CSV_COUPLED_FROM - 10], AFTER_MIDNIGHT))
    with _open(config, clock) as store:
        service = CorrService(
            store,
            build_market_data(config, store, clock, show_progress=False),
            build_evaluator(config),
            clock=clock,
        )
        assert (await service.check_now()).recorded == []
        warm = _state(store)
        before = _snapshot_of(store)
        _write_csv(folder, "PSCT", [*files["PSCT"][:-1], f"{last.isoformat()},{bad}"])
        clock.now = _at(last, AFTER_MIDNIGHT)
        broken = await service.check_now()
        _assert_held_back_quietly(broken, store, before)
        assert broken.refresh.ok, "the file was read: the price itself is the problem"
        [issue] = [i for i in broken.held_back[HEADLINE] if i.kind is QualityKind.BAD_PRICE]
        assert issue.symbol == "PSCT"
        assert issue.sessions == (last,)
        assert any("bad_price" in line for line in broken.problems())
        status = {s.asset.symbol: s for s in service.data_status()}["PSCT"]
        assert any(i.kind is QualityKind.BAD_PRICE for i in status.issues)

        _write_csv(folder, "PSCT", files["PSCT"])  # the provider corrects the close
        fixed = await service.check_now()
        _assert_caught_up(fixed, store)
    [alert] = [s.alert for s in fixed.recorded if s.alert.notify]
    assert alert.kind is AlertKind.SPIKE
    assert alert.direction == "up"
    assert alert.catch_up
    assert alert.since == warm.last_session
    assert sessions[CSV_COUPLED_FROM] <= alert.session < last


async def test_daily_runs_before_the_crypto_close_still_alert(tmp_path: Path) -> None:
    """Daily runs at 17:30 New York with daily-close crypto detect a coupling, as later runs do."""
    sessions = _csv_sessions()
    config, _ = _csv_config(tmp_path, sessions)
    evening = 21.5  # 17:30 EDT, the default schedule: BTC's daily close is 2.5 h away
    clock = Clock(_at(sessions[CSV_COUPLED_FROM - 5], evening))
    with _open(config, clock) as store:
        service = CorrService(
            store,
            build_market_data(config, store, clock, show_progress=False),
            build_evaluator(config),
            clock=clock,
        )
        await service.check_now()
        recorded: list[StoredAlert] = []
        for day in sessions[CSV_COUPLED_FROM - 4 : CSV_COUPLED_FROM + 50]:
            clock.now = _at(day, evening)
            result = await service.check_now()
            assert result.ok, result.problems()
            recorded.extend(result.recorded)
        episode = _state(store).episode
    pushed = [s.alert for s in recorded if s.alert.notify]
    assert [(a.kind, a.direction, a.catch_up) for a in pushed] == [
        (AlertKind.SPIKE, "up", False)
    ], [s.alert.key for s in recorded]
    assert sessions[CSV_COUPLED_FROM] <= pushed[0].session
    assert episode is not None
    assert (episode.key, episode.direction) == (pushed[0].key, "up")


# ---- outlying ticks and revised closes ------------------------------------------------------


def _ticked(rows: list[str], day: date, factor: float = 30.0) -> list[str]:
    """The file's rows with the close of ``day`` alone multiplied by ``factor`` (a bad tick)."""
    out = []
    for row in rows:
        when, close = row.split(",")
        out.append(f"{when},{float(close) * factor:.6f}" if when == day.isoformat() else row)
    return out


def _csv_service(config: Config, store: Store, clock: Clock) -> CorrService:
    return CorrService(
        store,
        build_market_data(config, store, clock, show_progress=False),
        build_evaluator(config),
        clock=clock,
    )


async def _pushed_day_by_day(
    tmp_path: Path,
    days: Sequence[date],
    doctor: Callable[[date, Path], None] | None = None,
    *,
    until_spike: bool = False,
) -> tuple[list[StoredAlert], list[CheckResult]]:
    """Daily runs over ``days`` (after a warm-up the day before); ``doctor`` edits the files.

    With ``until_spike`` the runs stop at the first pushed spike (the clean reference run).
    """
    sessions = _csv_sessions()
    config, _ = _csv_config(tmp_path, sessions)
    folder = tmp_path / "prices"
    clock = Clock(_at(sessions[sessions.index(days[0]) - 1], AFTER_MIDNIGHT))
    recorded: list[StoredAlert] = []
    results = []
    with _open(config, clock) as store:
        service = _csv_service(config, store, clock)
        await service.check_now()
        for day in days:
            if doctor is not None:
                doctor(day, folder)
            clock.now = _at(day, AFTER_MIDNIGHT)
            result = await service.check_now()
            results.append(result)
            recorded.extend(result.recorded)
            if until_spike and any(
                r.alert.notify and r.alert.kind is AlertKind.SPIKE for r in result.recorded
            ):
                break
    return [s for s in recorded if s.alert.notify], results


async def test_a_tick_on_both_legs_in_a_quiet_period_holds_the_pair_back_and_tells_nothing(
    tmp_path: Path,
) -> None:
    """x30 on BTC and PSCT for one session of calm: no spike, no band change, held back twice.

    The tick day has nothing to confirm it; the day after, the price went straight back, so
    the tick stays suspect while the rules read it. Nothing is ever recorded from it.
    """
    sessions = _csv_sessions()
    tick = sessions[CSV_COUPLED_FROM - 60]
    days = sessions[CSV_COUPLED_FROM - 61 : CSV_COUPLED_FROM - 55]
    originals: dict[str, list[str]] = {}

    def doctor(day: date, folder: Path) -> None:
        if day == tick:
            for ticker in ("BTC-USD", "PSCT"):
                rows = (folder / f"{ticker}.csv").read_text().splitlines()[1:]
                originals[ticker] = rows
                _write_csv(folder, ticker, _ticked(rows, tick))

    pushed, results = await _pushed_day_by_day(tmp_path, days, doctor)
    assert pushed == []
    at_tick = results[days.index(tick)]
    assert HEADLINE in at_tick.held_back
    kinds = {i.kind for i in at_tick.held_back[HEADLINE]}
    assert kinds == {QualityKind.SUSPECT}
    assert HEADLINE in results[days.index(tick) + 1].held_back
    assert all(s.alert.session != tick for r in results for s in r.recorded)


async def test_a_tick_hiding_the_spike_is_held_back_and_the_corrected_close_tells_it_once(
    tmp_path: Path,
) -> None:
    """PSCT x30 on the day the spike fires: held back; corrected next day, the spike is told.

    Without the tick the spike is pushed on session S. With it, S is held back (suspect),
    the provider corrects the close before S+1, and the spike is pushed exactly once.
    """
    sessions = _csv_sessions()
    days = sessions[CSV_COUPLED_FROM - 2 : CSV_COUPLED_FROM + 40]
    clean, _ = await _pushed_day_by_day(tmp_path / "clean", days, until_spike=True)
    [spike] = [s.alert for s in clean if s.alert.kind is AlertKind.SPIKE]
    fired = spike.session
    saved: list[str] = []

    def doctor(day: date, folder: Path) -> None:
        path = folder / "PSCT.csv"
        if day == fired:
            saved.extend(path.read_text().splitlines()[1:])
            _write_csv(folder, "PSCT", _ticked(saved, fired))
        elif saved:
            _write_csv(folder, "PSCT", saved)  # the provider corrects the close

    days = days[: days.index(fired) + 5]  # held back, corrected, told: a few sessions suffice
    pushed, results = await _pushed_day_by_day(tmp_path / "ticked", days, doctor)
    assert HEADLINE in results[days.index(fired)].held_back
    spikes = [s.alert for s in pushed if s.alert.kind is AlertKind.SPIKE]
    assert [a.session for a in spikes] == [fired]
    assert spikes[0].catch_up


async def test_a_revised_close_reopens_the_session_it_touches_and_the_spike_keeps_its_day(
    tmp_path: Path,
) -> None:
    """A flat (unflagged) wrong close on the spike's day, revised the day after: told for S.

    The wrong close holds the day's PSCT return at zero, so the spike does not fire on S;
    the revision re-opens S, the engine walks it again on the right prices, and the spike is
    told once, for S, as in a run that never saw the wrong close.
    """
    sessions = _csv_sessions()
    days = sessions[CSV_COUPLED_FROM - 2 : CSV_COUPLED_FROM + 40]
    clean, _ = await _pushed_day_by_day(tmp_path / "clean", days, until_spike=True)
    [spike] = [s.alert for s in clean if s.alert.kind is AlertKind.SPIKE]
    fired = spike.session
    saved: list[str] = []

    def doctor(day: date, folder: Path) -> None:
        path = folder / "PSCT.csv"
        if day == fired:
            saved.extend(path.read_text().splitlines()[1:])
            previous = saved[[r.split(",")[0] for r in saved].index(fired.isoformat()) - 1]
            flat = [
                f"{fired.isoformat()},{previous.split(',')[1]}"
                if r.startswith(fired.isoformat())
                else r
                for r in saved
            ]
            _write_csv(folder, "PSCT", flat)
        elif saved:
            _write_csv(folder, "PSCT", saved)

    days = days[: days.index(fired) + 5]
    pushed, results = await _pushed_day_by_day(tmp_path / "revised", days, doctor)
    assert results[days.index(fired)].recorded == [], "the flat close hid the spike that day"
    spikes = [s.alert for s in pushed if s.alert.kind is AlertKind.SPIKE]
    assert [a.session for a in spikes] == [fired]


# ---- the bot's job path: retries and what the admins are told ----------------------------

_real_fetch = SyntheticSource.fetch


def _synthetic_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every synthetic fetch fails as a network outage would."""

    async def fetch(self: SyntheticSource, requests: Sequence[FetchRequest]) -> FetchResults:
        return {
            r.asset.symbol: TemporaryDataError(f"{r.asset.symbol}: upstream down") for r in requests
        }

    monkeypatch.setattr(SyntheticSource, "fetch", fetch)


def _synthetic_doctored(
    monkeypatch: pytest.MonkeyPatch,
    *,
    published_until: pd.Timestamp | None = None,
    bad_psct_on: date | None = None,
) -> None:
    """The synthetic market, missing days after ``published_until`` or with a negative PSCT."""

    async def fetch(self: SyntheticSource, requests: Sequence[FetchRequest]) -> FetchResults:
        results = dict(await _real_fetch(self, requests))
        for symbol, found in list(results.items()):
            if not isinstance(found, Observations):
                continue
            closes = found.closes.copy()
            if published_until is not None:
                closes = closes[closes.index <= published_until]
            if bad_psct_on is not None and symbol == "PSCT":
                closes[closes.index.date == bad_psct_on] = -1.0
            results[symbol] = Observations(symbol, closes, found.origin)
        return results

    monkeypatch.setattr(SyntheticSource, "fetch", fetch)


def _alerts_to(bot: RunningBot, chat: int) -> list[str]:
    return [m.text or "" for m in bot.server.sent_to(chat)]


async def _job_done(bot: RunningBot) -> None:
    await until(bot.store.meta.last_run, 30, "the catch-up run to finish")


async def test_admins_are_told_when_every_source_is_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose data could not be fetched, retries exhausted, sends the admins a notice."""
    _synthetic_down(monkeypatch)
    async with running_bot(tmp_path, ready=False, schedule={"retry_for_minutes": 0}) as bot:
        bot.store.subscribers.subscribe(
            SUBSCRIBER, kind="private", title="", thread_id=None, now=bot.clock()
        )
        [notice] = await bot.server.wait_for_reply(ADMIN, timeout=30)
        assert bot.store.query("SELECT COUNT(*) FROM alerts")[0][0] == 0
    assert "No complete data for 2024-06-03 after 0 minutes of retries" in (notice.text or "")
    assert "upstream down" in (notice.text or "")
    assert _alerts_to(bot, SUBSCRIBER) == []


async def test_stale_data_notifies_admins_once_retries_are_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The day's prices missing and no retry time left: one notice to the admins, no alert."""
    _synthetic_doctored(monkeypatch, published_until=pd.Timestamp("2024-06-01", tz="UTC"))
    async with running_bot(tmp_path, ready=False, schedule={"retry_for_minutes": 0}) as bot:
        [notice] = await bot.server.wait_for_reply(ADMIN, timeout=30)
        last_run = bot.store.meta.last_run()
    text = notice.text or ""
    assert "No complete data for 2024-06-03" in text
    assert "stale" in text
    assert last_run is not None
    assert not last_run.ok


async def test_stale_data_schedules_a_retry_instead_of_a_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While retry_for_minutes allows, stale data schedules a retry and the admins hear nothing."""
    retries = record_daily_retries(monkeypatch)
    _synthetic_doctored(monkeypatch, published_until=pd.Timestamp("2024-06-01", tz="UTC"))
    async with running_bot(tmp_path, ready=False) as bot:
        await _job_done(bot)
        # The job decides between a retry and a notice before it returns: once the retry is
        # scheduled, a notice would already be queued in the store.
        await until(lambda: retries, 10, "the retry to be scheduled")
        started = bot.clock()
        queued = bot.store.query("SELECT COUNT(*) FROM deliveries WHERE chat_id = ?", (ADMIN,))
    assert queued[0][0] == 0
    assert bot.server.sent_to(ADMIN) == []
    [when] = retries
    assert when == started + timedelta(minutes=20)


async def test_broken_prices_reach_the_admins_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bad price (not a late one) is no reason to retry: the admins hear about it at once."""
    _synthetic_doctored(monkeypatch, bad_psct_on=date(2024, 5, 28))
    async with running_bot(tmp_path, ready=False) as bot:
        [notice] = await bot.server.wait_for_reply(ADMIN, timeout=30)
    text = notice.text or ""
    assert "The daily job had problems" in text
    assert "BTC~PSCT held back" in text
    assert "bad_price" in text
    assert "2024-05-28" in text
