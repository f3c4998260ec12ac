"""Incremental refresh: ask only for what is missing, remember gaps, keep data on failure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from bot.core.calendar import nyse
from bot.core.errors import DataError, TemporaryDataError
from bot.core.market_data import MarketData, RefreshSettings
from bot.core.models import Asset, AssetKind, QualityKind
from bot.core.sources.base import FetchRequest, FetchResults, Observations, PriceSource
from bot.core.store import Store
from bot.present.fetch import fetch_table

BTC = Asset("BTC", AssetKind.CRYPTO, ccxt="BTC/USD")
PSCT = Asset("PSCT", AssetKind.EQUITY)


class ScriptedSource(PriceSource):
    """A source double that prices every instant by a formula and records each request."""

    name: ClassVar[str] = "scripted"
    intraday: ClassVar[bool] = True

    def __init__(self) -> None:
        self.requests: list[FetchRequest] = []
        self.fail_with: DataError | None = None
        self.unavailable_before: pd.Timestamp | None = None
        self.withheld: set[pd.Timestamp] = set()  # instants the source does not have (yet)
        self.closed = False

    async def fetch(self, requests: Sequence[FetchRequest]) -> FetchResults:
        self.requests.extend(requests)
        results: dict[str, Observations | DataError] = {}
        for request in requests:
            if self.fail_with is not None:
                results[request.asset.symbol] = self.fail_with
                continue
            targets = request.targets
            if self.unavailable_before is not None:
                targets = targets[targets >= self.unavailable_before]
            targets = targets[~targets.isin(list(self.withheld))]
            values = 100.0 + targets.day_of_year.to_numpy()
            results[request.asset.symbol] = Observations(
                request.asset.symbol, pd.Series(values, index=targets, dtype="float64"), "scripted"
            )
        return results

    async def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "s.db")


def _market(
    store: Store, source: PriceSource, clock: Clock, sessions: int = 100, retry: int = 20
) -> MarketData:
    return MarketData(
        store.prices,
        crypto=[BTC],
        equities=[PSCT],
        crypto_source=source,
        equity_source=source,
        calendar=nyse(),
        clock=clock,
        settings=RefreshSettings(
            history_sessions=sessions,
            overlap_sessions=3,
            late_retry_sessions=retry,
            stale_after=timedelta(minutes=90),
        ),
        show_progress=False,
    )


async def test_first_refresh_fetches_the_whole_window(store: Store) -> None:
    """An empty store asks for every session of the kept window."""
    source = ScriptedSource()
    report = await _market(store, source, Clock(datetime(2024, 12, 3, 23, tzinfo=UTC))).refresh()
    assert report.ok
    assert report.written == {"BTC": 100, "PSCT": 100}
    assert {len(r.targets) for r in source.requests} == {100}


async def test_next_refresh_fetches_only_new_sessions_plus_overlap(store: Store) -> None:
    """The day after, only the new session and the overlap are asked for."""
    clock = Clock(datetime(2024, 12, 3, 23, tzinfo=UTC))
    source = ScriptedSource()
    market = _market(store, source, clock)
    await market.refresh()
    source.requests.clear()
    clock.now = datetime(2024, 12, 4, 23, tzinfo=UTC)
    await market.refresh()
    assert {len(r.targets) for r in source.requests} == {3}
    assert source.requests[0].end == pd.Timestamp("2024-12-04 21:00", tz="UTC")


async def test_failed_refresh_keeps_the_cache_and_is_recorded(store: Store) -> None:
    """A failure is reported per symbol, recorded, and the earlier prices stay usable."""
    clock = Clock(datetime(2024, 12, 3, 23, tzinfo=UTC))
    source = ScriptedSource()
    market = _market(store, source, clock)
    await market.refresh()
    source.fail_with = TemporaryDataError("exchange down")
    clock.now = datetime(2024, 12, 4, 23, tzinfo=UTC)
    report = await market.refresh()
    assert set(report.errors) == {"BTC", "PSCT"}
    panel = market.panel()
    assert panel.prices["BTC"].notna().sum() == 99
    kinds = {issue.kind for issue in panel.blocking_issues(["BTC"])}
    assert QualityKind.FETCH_FAILED in kinds


async def test_pre_listing_sessions_are_asked_for_once(store: Store) -> None:
    """Sessions a source has no data for are remembered and not requested again."""
    clock = Clock(datetime(2024, 12, 3, 23, tzinfo=UTC))
    source = ScriptedSource()
    source.unavailable_before = pd.Timestamp("2024-11-01", tz="UTC")
    market = _market(store, source, clock)
    await market.refresh()
    source.requests.clear()
    await market.refresh()
    assert {len(r.targets) for r in source.requests} == {3}
    assert not any(i.kind is QualityKind.MISSING for i in market.panel().issues)


async def test_panel_is_stale_when_the_latest_session_is_absent(store: Store) -> None:
    """Once the publication delay has passed, a missing latest session is stale."""
    clock = Clock(datetime(2024, 12, 3, 23, tzinfo=UTC))
    source = ScriptedSource()
    market = _market(store, source, clock)
    await market.refresh()
    clock.now = datetime(2024, 12, 4, 23, tzinfo=UTC)  # a new session closed, not fetched
    stale = [i for i in market.panel().issues if i.kind is QualityKind.STALE]
    assert {i.symbol for i in stale} == {"BTC", "PSCT"}


async def test_statuses_report_span_rows_and_freshness(store: Store) -> None:
    """The fetch table's numbers: first and last session, rows, zero sessions behind."""
    market = _market(store, ScriptedSource(), Clock(datetime(2024, 12, 3, 23, tzinfo=UTC)))
    await market.refresh()
    statuses = market.statuses(market.panel())
    btc = statuses[0]
    assert btc.asset == BTC
    assert btc.rows == 100
    assert btc.last_session is not None
    assert btc.last_session.isoformat() == "2024-12-03"
    assert btc.stale_sessions == 0
    assert btc.source == "scripted"


async def test_daily_only_source_samples_crypto_at_daily_close(store: Store) -> None:
    """A source without intraday bars makes crypto use the daily close instant."""

    class DailyOnly(ScriptedSource):
        intraday: ClassVar[bool] = False

    source = DailyOnly()
    market = _market(store, source, Clock(datetime(2024, 12, 3, 23, tzinfo=UTC)))
    assert market.sampling == {"BTC": "daily_close", "PSCT": "equity_close"}
    await market.refresh()
    btc_request = next(r for r in source.requests if r.asset == BTC)
    assert btc_request.end == pd.Timestamp("2024-12-04 00:00", tz="UTC")
    assert not market.panel().issues_for(["BTC"])  # its midnight has not come: not stale


async def test_close_closes_each_source_once(store: Store) -> None:
    """Shutdown closes the shared source."""
    source = ScriptedSource()
    await _market(store, source, Clock(datetime(2024, 12, 3, 23, tzinfo=UTC))).close()
    assert source.closed


# ---- late data: asked for again until it arrives, then a known gap -----------------------

NOW = datetime(2024, 12, 3, 23, tzinfo=UTC)


def _closes(count: int, now: datetime = NOW) -> pd.Series:
    """The close instants of the last ``count`` sessions, as the refresh computes them."""
    return nyse().recent_closes(count, now)


def _asked(source: ScriptedSource, symbol: str) -> set[pd.Timestamp]:
    return {ts for r in source.requests if r.asset.symbol == symbol for ts in r.targets}


async def test_a_hole_older_than_the_overlap_is_asked_for_again_and_filled(store: Store) -> None:
    """Sessions 8 and 9 back were absent: the next refresh asks again and fills them."""
    closes = _closes(100)
    holes = {closes.iloc[-9], closes.iloc[-8]}
    source = ScriptedSource()
    source.withheld = set(holes)
    market = _market(store, source, Clock(NOW))
    await market.refresh()
    source.requests.clear()
    source.withheld = set()  # the source delivers late
    await market.refresh()
    assert holes <= _asked(source, "PSCT")
    assert not any(i.kind is QualityKind.MISSING for i in market.panel().issues)
    assert store.prices.known_gaps("PSCT").empty


async def test_a_hole_older_than_the_retry_horizon_becomes_a_known_gap(store: Store) -> None:
    """With late_retry_sessions 5, a session 8 back is given up on and not asked again."""
    closes = _closes(100)
    hole = closes.iloc[-8]
    source = ScriptedSource()
    source.withheld = {hole}
    market = _market(store, source, Clock(NOW), retry=5)
    await market.refresh()
    assert list(store.prices.known_gaps("PSCT")) == [hole]
    source.requests.clear()
    await market.refresh()
    assert hole not in _asked(source, "PSCT")


async def test_a_gap_recorded_inside_the_retry_horizon_is_asked_for_again(store: Store) -> None:
    """A store written when gaps were given up after the overlap heals: the gap is re-asked."""
    closes = _closes(100)
    hole = closes.iloc[-6]
    source = ScriptedSource()
    source.withheld = {hole}
    market = _market(store, source, Clock(NOW))
    await market.refresh()
    store.prices.record_gaps("PSCT", [hole], checked_at=NOW)  # what the old refresh recorded
    source.withheld = set()
    source.requests.clear()
    await market.refresh()
    assert hole in _asked(source, "PSCT")
    assert store.prices.load("PSCT").index.isin([hole]).any()


@pytest.mark.parametrize(("retry", "holes"), [(20, 5), (0, 22)])
async def test_a_25_session_outage_delivered_late_leaves_only_the_holes_past_the_horizon(
    store: Store, retry: int, holes: int
) -> None:
    """Daily runs through a 25-session outage, then delivery: 5 holes (22 with the overlap only).

    ``late_retry_sessions: 0`` is the behaviour before the horizon existed.
    """
    clock = Clock(NOW)
    source = ScriptedSource()
    market = _market(store, source, clock, sessions=200, retry=retry)
    await market.refresh()
    outage = nyse().closes(NOW.date() + timedelta(days=1)).iloc[:25]
    source.withheld = set(outage)
    for close in outage:
        clock.now = close.to_pydatetime() + timedelta(hours=2)
        await market.refresh()
    source.withheld = set()
    clock.now = nyse().closes(clock.now.date() + timedelta(days=1)).iloc[0].to_pydatetime()
    clock.now += timedelta(hours=2)
    await market.refresh()
    absent = ~pd.DatetimeIndex(outage).isin(store.prices.load("PSCT").index)
    assert int(absent.sum()) == holes


async def test_statuses_list_holes_still_fetched_and_known_gaps(store: Store) -> None:
    """A "fresh" symbol with holes says so: pending sessions and given-up gaps, by date."""
    closes = _closes(100)
    pending, lost = closes.iloc[-4], closes.iloc[-30]
    source = ScriptedSource()
    source.withheld = {pending, lost}
    market = _market(store, source, Clock(NOW))
    await market.refresh()
    psct = {s.asset.symbol: s for s in market.statuses(market.panel())}["PSCT"]
    assert psct.stale_sessions == 0
    assert psct.pending == (pending.date(),)
    assert psct.gaps == (lost.date(),)


async def test_the_fetch_report_shows_holes_next_to_a_fresh_symbol(store: Store) -> None:
    """`corrbot fetch`: "fresh, 1 missing (fetched again), 1 known gap", then the dates."""
    closes = _closes(100)
    pending, lost = closes.iloc[-4], closes.iloc[-30]
    source = ScriptedSource()
    source.withheld = {pending, lost}
    market = _market(store, source, Clock(NOW))
    await market.refresh()
    text = fetch_table(market.statuses(market.panel()))
    assert "fresh, 1 missing (fetched again), 1 known gap" in text
    assert f"PSCT: still missing, fetched again on every refresh: {pending.date()}" in text
    assert f"PSCT: known gaps, no longer asked for: {lost.date()}" in text
