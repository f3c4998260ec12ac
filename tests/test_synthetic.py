"""The synthetic market: deterministic, prefix-stable, and it carries the regimes it claims."""

from __future__ import annotations

import itertools
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bot.core.calendar import TradingCalendar, nyse
from bot.core.errors import PermanentDataError
from bot.core.models import Asset, AssetKind
from bot.core.sources.base import FetchRequest, Observations
from bot.core.sources.synthetic import SyntheticMarket, SyntheticSource

CRYPTO = ["BTC", "ETH"]
EQUITIES = ["PSCT", "IWM", "QQQ"]
BTC = Asset("BTC", AssetKind.CRYPTO, ccxt="BTC/USD", yahoo="BTC-USD")
ETH = Asset("ETH", AssetKind.CRYPTO, ccxt="ETH/USD", yahoo="ETH-USD")
PSCT = Asset("PSCT", AssetKind.EQUITY, "US small-cap tech")
IWM = Asset("IWM", AssetKind.EQUITY, "Russell 2000")
QQQ = Asset("QQQ", AssetKind.EQUITY, "Nasdaq-100")


class _CalendarEndingAt(TradingCalendar):
    """The XNYS calendar cut at ``end``, as exchange-calendars would have built it earlier."""

    def __init__(self, end: date) -> None:
        self._base = nyse()
        self._end = end

    def closes(self, first: date | None = None, last: date | None = None) -> pd.Series:
        return self._base.closes(first, self._end if last is None else min(last, self._end))


def _utc(*instants: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(i, tz="UTC") for i in instants])


@pytest.fixture(scope="module")
def market() -> SyntheticMarket:
    return SyntheticMarket(CRYPTO, EQUITIES, nyse())


@pytest.fixture(scope="module")
def returns(market: SyntheticMarket) -> pd.DataFrame:
    return np.log(market.at_sessions()).diff().dropna()


def _source() -> SyntheticSource:
    return SyntheticSource([BTC, ETH], [PSCT, IWM, QQQ], nyse())


@pytest.fixture(scope="module")
def source() -> SyntheticSource:
    return _source()


def test_same_seed_gives_identical_prices(market: SyntheticMarket) -> None:
    """Two markets built with the same seed are identical to the last bit."""
    again = SyntheticMarket(CRYPTO, EQUITIES, nyse(), seed=7)
    pd.testing.assert_frame_equal(again.crypto, market.crypto, check_exact=True)
    pd.testing.assert_frame_equal(again.equities, market.equities, check_exact=True)
    assert again.regimes == market.regimes


def test_different_seed_gives_different_prices(market: SyntheticMarket) -> None:
    """Another seed draws another history."""
    other = SyntheticMarket(CRYPTO, EQUITIES, nyse(), seed=8)
    assert not np.allclose(other.at_sessions().to_numpy(), market.at_sessions().to_numpy())


async def test_short_fetch_matches_long_fetch() -> None:
    """The price at an instant does not depend on the range it was fetched with."""
    closes = nyse().closes(date(2016, 1, 1), date(2023, 12, 31))
    long_targets = pd.DatetimeIndex(closes.to_numpy())
    short_targets = long_targets[1000:1010]
    long = await _source().fetch(
        [FetchRequest(BTC, long_targets), FetchRequest(PSCT, long_targets)]
    )
    short = await _source().fetch(
        [FetchRequest(BTC, short_targets), FetchRequest(PSCT, short_targets)]
    )
    for symbol in ("BTC", "PSCT"):
        got, full = short[symbol], long[symbol]
        assert isinstance(got, Observations)
        assert isinstance(full, Observations)
        assert len(got.closes) == 10
        pd.testing.assert_series_equal(got.closes, full.closes.loc[short_targets], check_exact=True)


@pytest.mark.parametrize("end", [date(2019, 6, 14), date(2022, 12, 30), date(2024, 1, 2)])
def test_calendar_that_ends_earlier_gives_the_same_prefix(
    market: SyntheticMarket, end: date
) -> None:
    """Extending the calendar (exchange-calendars ends a year after today) only appends."""
    early = SyntheticMarket(CRYPTO, EQUITIES, _CalendarEndingAt(end))
    assert early.sessions.index[-1].date() == end
    pd.testing.assert_frame_equal(
        early.crypto, market.crypto.loc[early.crypto.index], check_exact=True
    )
    pd.testing.assert_frame_equal(
        early.equities, market.equities.loc[early.equities.index], check_exact=True
    )
    pd.testing.assert_series_equal(
        early.target_rho, market.target_rho.loc[early.target_rho.index], check_exact=True
    )


def test_end_argument_gives_the_same_prefix(market: SyntheticMarket) -> None:
    """Stopping generation early with ``end`` leaves earlier prices untouched."""
    early = SyntheticMarket(CRYPTO, EQUITIES, nyse(), end=date(2020, 4, 15))
    assert early.crypto.index[-1] == pd.Timestamp("2020-04-15 20:00", tz="UTC")
    pd.testing.assert_frame_equal(
        early.at_sessions(), market.at_sessions().loc[early.sessions.index], check_exact=True
    )


def test_adding_an_asset_leaves_the_others_unchanged(market: SyntheticMarket) -> None:
    """Appending a symbol to the universe does not rewrite the history of the others."""
    bigger = SyntheticMarket([*CRYPTO, "SOL"], [*EQUITIES, "SPY"], nyse())
    pd.testing.assert_frame_equal(bigger.crypto[CRYPTO], market.crypto, check_exact=True)
    pd.testing.assert_frame_equal(bigger.equities[EQUITIES], market.equities, check_exact=True)


def test_crypto_moves_on_weekends(market: SyntheticMarket) -> None:
    """Every Saturday hour has a price and Saturday's prices move away from Friday's close."""
    friday_close = market.crypto.loc[pd.Timestamp("2021-03-05 21:00", tz="UTC"), "BTC"]
    saturday = market.crypto.loc["2021-03-06", "BTC"]
    assert len(saturday) == 24
    assert (saturday != friday_close).all()
    assert saturday.nunique() == 24


def test_monday_session_return_carries_the_weekend(returns: pd.DataFrame) -> None:
    """Crypto's Friday-to-Monday return holds ~3 days of variance; the equity's holds one."""
    gap = returns.index.to_series().diff().dt.days
    weekend, weekday = returns[gap == 3], returns[gap == 1]
    assert weekend["BTC"].var() / weekday["BTC"].var() > 2.0
    assert weekend["PSCT"].var() / weekday["PSCT"].var() < 1.6


def test_session_price_is_the_hourly_price_at_the_close(market: SyntheticMarket) -> None:
    """The crypto price at a session is the hourly path at that session's close."""
    sessions = market.at_sessions()
    hourly = market.crypto.loc[market.sessions.to_numpy()]
    np.testing.assert_array_equal(sessions[CRYPTO].to_numpy(), hourly.to_numpy())


def test_equity_closes_only_on_sessions(market: SyntheticMarket) -> None:
    """Equities have exactly one price per NYSE session, at its close (13:00 NY early closes)."""
    expected = nyse().closes(first=date(2015, 1, 2))
    assert market.equities.index.equals(pd.DatetimeIndex(expected.to_numpy()))
    early_close = pd.Timestamp("2019-11-29 18:00", tz="UTC")  # the day after Thanksgiving
    assert early_close in market.equities.index


async def test_fetch_drops_targets_that_are_not_prices(source: SyntheticSource) -> None:
    """Equity targets off the session closes, and anything before ``start``, are absent."""
    targets = _utc(
        "2014-12-31 21:00",  # before start
        "2021-03-05 21:00",  # a Friday close
        "2021-03-06 21:00",  # Saturday
        "2021-03-08 15:00",  # Monday, mid-session
        "2021-03-08 21:00",  # Monday close
    )
    results = await source.fetch([FetchRequest(PSCT, targets), FetchRequest(BTC, targets)])
    equity, crypto = results["PSCT"], results["BTC"]
    assert isinstance(equity, Observations)
    assert isinstance(crypto, Observations)
    assert list(equity.closes.index) == [targets[1], targets[4]]
    assert list(crypto.closes.index) == list(targets[1:])
    assert equity.origin == crypto.origin == "synthetic"


async def test_crypto_daily_close_targets_are_served(source: SyntheticSource) -> None:
    """Midnight UTC (the daily candle close) is priced like any other whole hour."""
    midnights = pd.date_range("2022-05-01", "2022-05-31", freq="D", tz="UTC")
    results = await source.fetch([FetchRequest(ETH, midnights)])
    found = results["ETH"]
    assert isinstance(found, Observations)
    assert found.closes.index.equals(midnights)


def test_regimes_tile_the_history(market: SyntheticMarket) -> None:
    """Episodes are contiguous, labelled, and long enough for a 30-session window."""
    regimes = market.regimes
    sessions = market.sessions.index
    assert regimes[0].first_session == sessions[0].date()
    assert regimes[-1].last_session == sessions[-1].date()
    for before, after in itertools.pairwise(regimes):
        position = sessions.get_loc(pd.Timestamp(before.last_session))
        assert sessions[position + 1].date() == after.first_session
    assert {r.label for r in regimes} >= {"decoupled", "linked", "coupled"}
    lengths = [
        len(market.target_rho.loc[str(r.first_session) : str(r.last_session)]) for r in regimes
    ]
    assert min(lengths[:-1]) >= 55  # the last one may be cut by the calendar's end


def test_injected_regimes_are_recovered(market: SyntheticMarket, returns: pd.DataFrame) -> None:
    """Each episode's sample correlation is within 3.5 Fisher-z standard errors of its rho."""
    for regime in market.regimes:
        episode = returns.loc[str(regime.first_session) : str(regime.last_session)]
        n = len(episode)
        if n < 30:
            continue
        estimate = episode["BTC"].corr(episode["PSCT"])
        # Fat tails widen the spread beyond the Gaussian 1/sqrt(n-3); 3.5 SE allows for it.
        bound = 3.5 / math.sqrt(n - 3)
        assert abs(math.atanh(estimate) - math.atanh(regime.rho)) < bound, (regime, estimate)


def test_coupled_episodes_correlate_higher_than_decoupled(
    market: SyntheticMarket, returns: pd.DataFrame
) -> None:
    """Coupled episodes show clearly higher correlation than decoupled ones."""

    def mean_correlation(label: str) -> float:
        values = [
            returns.loc[str(r.first_session) : str(r.last_session)].corr().loc["BTC", "PSCT"]
            for r in market.regimes
            if r.label == label
        ]
        return float(np.mean(values))

    assert mean_correlation("coupled") > mean_correlation("linked") > mean_correlation("decoupled")
    assert mean_correlation("coupled") - mean_correlation("decoupled") > 0.4


def test_first_equity_is_the_first_cryptos_closest(returns: pd.DataFrame) -> None:
    """Over the whole history the headline crypto correlates most with the headline equity."""
    correlations = returns.corr().loc["BTC", EQUITIES]
    assert correlations.idxmax() == "PSCT"
    assert list(correlations) == sorted(correlations, reverse=True)


def test_cryptos_move_together(returns: pd.DataFrame) -> None:
    """BTC and ETH stay strongly correlated with each other, even when decoupled from stocks."""
    assert returns["BTC"].corr(returns["ETH"]) > 0.6


def test_returns_are_fat_tailed(returns: pd.DataFrame) -> None:
    """Session log returns have excess kurtosis above 1 for crypto and equities alike."""
    assert (returns.kurt() > 1.0).all()


def test_prices_are_positive_and_finite(market: SyntheticMarket) -> None:
    """No price is zero, negative, infinite or missing."""
    for frame in (market.crypto, market.equities):
        values = frame.to_numpy()
        assert np.isfinite(values).all()
        assert (values > 0).all()


async def test_unknown_symbol_is_a_permanent_error(source: SyntheticSource) -> None:
    """A symbol outside the configured universe fails alone, without hiding the others."""
    sol = Asset("SOL", AssetKind.CRYPTO, ccxt="SOL/USD")
    targets = _utc("2021-03-08 21:00")
    results = await source.fetch([FetchRequest(sol, targets), FetchRequest(BTC, targets)])
    assert isinstance(results["SOL"], PermanentDataError)
    assert "SOL" in str(results["SOL"])
    assert isinstance(results["BTC"], Observations)
    assert len(results["BTC"].closes) == 1


def test_source_declares_itself_intraday() -> None:
    """The source prices any whole hour, so crypto can be sampled at the NYSE close."""
    assert SyntheticSource.name == "synthetic"
    assert SyntheticSource.intraday is True
