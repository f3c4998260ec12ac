"""CcxtSource against real ccxt exchange classes talking to a loopback fake exchange."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import ccxt
import pandas as pd
import pytest

from bot.core.calendar import nyse
from bot.core.errors import ConfigError, PermanentDataError, TemporaryDataError
from bot.core.models import Asset, AssetKind
from bot.core.sources.base import FetchRequest, Observations, crypto_daily_close_times
from bot.core.sources.ccxt_source import CcxtSource, _translate, default_exchange_factory
from tests.fakes.exchange import EXCHANGES, FakeExchanges, Fault

NOW = datetime(2024, 12, 3, 12, 0, tzinfo=UTC)
BTC = Asset("BTC", AssetKind.CRYPTO, ccxt="BTC/USD")
ETH = Asset("ETH", AssetKind.CRYPTO, ccxt="ETH/USD")
LOGGER = "bot.core.sources.ccxt_source"


def session_closes(first: date, last: date) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(nyse().closes(first, last).to_numpy())


def expected(fake: FakeExchanges, exchange: str, asset: Asset, targets: Any) -> pd.Series:
    assert asset.ccxt is not None
    values = [fake.price(exchange, asset.ccxt, t) for t in targets]
    index = pd.DatetimeIndex(list(targets))  # observations are a subset: no frequency
    return pd.Series(values, index=index, dtype="float64")


def observed(result: object) -> Observations:
    assert isinstance(result, Observations), result
    return result


@pytest.fixture
async def fake() -> AsyncIterator[FakeExchanges]:
    server = await FakeExchanges(now=NOW).start()
    yield server
    await server.close()


@pytest.fixture
async def source(fake: FakeExchanges) -> AsyncIterator[CcxtSource]:
    src = CcxtSource(["kraken", "bitstamp"], clock=lambda: fake.now, exchange_factory=fake.factory)
    yield src
    await src.close()


def make_source(fake: FakeExchanges, exchange_ids: list[str], **kwargs: Any) -> CcxtSource:
    return CcxtSource(exchange_ids, clock=lambda: fake.now, exchange_factory=fake.factory, **kwargs)


class StubExchange:
    """A stand-in exchange that replays scripted pages or raises a given error."""

    features: dict[str, Any] = {}  # noqa: RUF012

    def __init__(self, pages: list[list[list[Any]]] | None = None, error: Exception | None = None):
        self.pages = pages or []
        self.error = error
        self.calls: list[tuple[str, str, int, int]] = []
        self.closed = False

    async def fetch_ohlcv(self, market: str, timeframe: str, since: int, limit: int) -> Any:
        self.calls.append((market, timeframe, since, limit))
        if self.error is not None:
            raise self.error
        return self.pages[min(len(self.calls), len(self.pages)) - 1] if self.pages else []

    async def close(self) -> None:
        self.closed = True


# ---- prices at the right instants ---------------------------------------------------------


async def test_hourly_closes_at_session_closes_match_exchange(
    fake: FakeExchanges, source: CcxtSource
) -> None:
    """Hourly closes at NYSE closes, including the 13:00 early close, equal the exchange's."""
    targets = session_closes(date(2024, 11, 25), date(2024, 12, 2))
    assert pd.Timestamp("2024-11-29 18:00", tz="UTC") in targets  # 13:00 New York

    result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])

    assert result.origin == "ccxt:kraken"
    pd.testing.assert_series_equal(result.closes, expected(fake, "kraken", BTC, targets))


async def test_closes_across_dst_switch(fake: FakeExchanges, source: CcxtSource) -> None:
    """Closes before (21:00 UTC) and after (20:00 UTC) the March DST switch are both found."""
    targets = session_closes(date(2024, 3, 6), date(2024, 3, 13))
    assert pd.Timestamp("2024-03-08 21:00", tz="UTC") in targets
    assert pd.Timestamp("2024-03-11 20:00", tz="UTC") in targets

    result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])

    pd.testing.assert_series_equal(result.closes, expected(fake, "kraken", BTC, targets))


async def test_daily_candles_for_midnight_targets(fake: FakeExchanges, source: CcxtSource) -> None:
    """Midnight targets are served from daily candles, each closing at the next midnight."""
    targets = crypto_daily_close_times(pd.date_range("2024-11-01", "2024-11-30"))

    result = observed((await source.fetch([FetchRequest(ETH, targets)]))["ETH"])

    pd.testing.assert_series_equal(result.closes, expected(fake, "kraken", ETH, targets))
    requests = fake.ohlc_requests("kraken")
    assert [r.query["interval"] for r in requests] == ["1440"]


@pytest.mark.parametrize("exchange", EXCHANGES)
async def test_pagination_yields_every_target(fake: FakeExchanges, exchange: str) -> None:
    """A range many pages long is fetched page by page and every target is found."""
    fake.page_size = 24
    targets = session_closes(date(2024, 9, 3), date(2024, 10, 31))
    source = make_source(fake, [exchange])
    try:
        result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])
    finally:
        await source.close()

    pd.testing.assert_series_equal(result.closes, expected(fake, exchange, BTC, targets))
    assert result.origin == f"ccxt:{exchange}"
    assert len(fake.ohlc_requests(exchange)) >= 55  # ~1400 hours / 24 per page


async def test_ccxt_requests_real_api_paths(fake: FakeExchanges) -> None:
    """The real ccxt classes request the exchanges' real endpoints, one candle early."""
    targets = session_closes(date(2024, 11, 26), date(2024, 11, 26))
    sources = [make_source(fake, ["kraken"]), make_source(fake, ["bitstamp"])]
    try:
        for source in sources:
            observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])
    finally:
        for source in sources:
            await source.close()

    first_hour = str(int(targets[0].timestamp()) - 3600)
    (bitstamp,) = fake.ohlc_requests("bitstamp")
    assert bitstamp.path == "/bitstamp/api/v2/ohlc/btcusd/"
    assert (bitstamp.query["step"], bitstamp.query["start"]) == ("3600", first_hour)
    (kraken,) = fake.ohlc_requests("kraken")
    assert kraken.path == "/kraken/0/public/OHLC"
    assert (kraken.query["pair"], kraken.query["interval"]) == ("XXBTZUSD", "60")


async def test_still_open_candle_is_dropped(fake: FakeExchanges, source: CcxtSource) -> None:
    """The candle in progress at clock() is not taken as the close of the session."""
    fake.now = datetime(2024, 12, 2, 20, 30, tzinfo=UTC)  # 15:30 New York, close at 21:00
    targets = session_closes(date(2024, 11, 25), date(2024, 12, 2))
    provisional = fake.candles("kraken", "BTC/USD", 3600, int(fake.now.timestamp()) - 1800, 5)
    assert provisional  # the fake does serve the open 20:00 candle, as exchanges do

    result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])

    assert targets[-1] not in result.closes.index
    pd.testing.assert_series_equal(result.closes, expected(fake, "kraken", BTC, targets[:-1]))


async def test_history_before_listing_is_simply_absent(
    fake: FakeExchanges, source: CcxtSource
) -> None:
    """Targets before the exchange's first candle are missing, the later ones found."""
    fake.history_start = datetime(2024, 11, 27, tzinfo=UTC)
    targets = session_closes(date(2024, 11, 20), date(2024, 11, 29))

    result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])

    later = targets[targets >= pd.Timestamp(fake.history_start)]
    pd.testing.assert_series_equal(result.closes, expected(fake, "kraken", BTC, later))


async def test_a_short_history_is_completed_by_the_next_exchange(
    fake: FakeExchanges, source: CcxtSource
) -> None:
    """Instants the first exchange lacks (Kraken keeps 720 candles) come from the next one."""
    fake.history_starts["kraken"] = datetime(2024, 11, 27, tzinfo=UTC)
    targets = session_closes(date(2024, 11, 20), date(2024, 11, 29))

    result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])

    early = targets[targets < pd.Timestamp(fake.history_starts["kraken"])]
    late = targets[targets >= pd.Timestamp(fake.history_starts["kraken"])]
    assert result.origin == "ccxt:kraken+bitstamp"
    pd.testing.assert_series_equal(result.closes.loc[late], expected(fake, "kraken", BTC, late))
    pd.testing.assert_series_equal(result.closes.loc[early], expected(fake, "bitstamp", BTC, early))


# ---- fallback ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=451),
        Fault(status=503),
        Fault(status=500),
        Fault(status=429),
        Fault(delay=5.0),
        Fault(status=503, endpoint="ohlc"),
    ],
    ids=["geo-block-451", "unavailable-503", "error-500", "rate-limit-429", "timeout", "ohlc-503"],
)
async def test_falls_back_to_second_exchange(
    fake: FakeExchanges, source: CcxtSource, fault: Fault
) -> None:
    """When the first exchange fails, the second one's closes are returned and named."""
    fake.inject("kraken", fault)
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 29))

    result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])

    assert result.origin == "ccxt:bitstamp"
    pd.testing.assert_series_equal(result.closes, expected(fake, "bitstamp", BTC, targets))


async def test_fallback_logs_a_warning_naming_the_failed_exchange(
    fake: FakeExchanges, source: CcxtSource, caplog: pytest.LogCaptureFixture
) -> None:
    """Falling back logs a warning with the failed exchange, its HTTP status and the next one."""
    fake.geo_block("kraken")
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await source.fetch([FetchRequest(BTC, targets)])

    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "kraken" in message
    assert "HTTP 451" in message
    assert "trying bitstamp" in message


async def test_failure_mid_pagination_does_not_mix_exchanges(
    fake: FakeExchanges, source: CcxtSource
) -> None:
    """If the first exchange fails on a later page, every close comes from the second."""
    fake.page_size = 24
    fake.inject("kraken", Fault(status=503, endpoint="ohlc", skip=2))
    targets = session_closes(date(2024, 11, 4), date(2024, 11, 15))

    result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])

    assert len(fake.ohlc_requests("kraken")) == 3
    assert result.origin == "ccxt:bitstamp"
    pd.testing.assert_series_equal(result.closes, expected(fake, "bitstamp", BTC, targets))


async def test_exchange_without_candles_yields_to_the_next(fake: FakeExchanges) -> None:
    """An exchange that answers with no candles at all gives way to one that has them."""
    stub = StubExchange(pages=[])

    def factory(exchange_id: str) -> Any:
        return stub if exchange_id == "kraken" else fake.factory(exchange_id)

    source = CcxtSource(["kraken", "bitstamp"], clock=lambda: fake.now, exchange_factory=factory)
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))
    try:
        result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])
    finally:
        await source.close()

    assert len(stub.calls) == 1
    assert result.origin == "ccxt:bitstamp"
    assert len(result.closes) == len(targets)


async def test_unknown_exchange_id_is_skipped_and_named(fake: FakeExchanges) -> None:
    """An exchange id ccxt does not know fails permanently, naming it, and the next is used."""

    def factory(exchange_id: str) -> Any:
        if exchange_id in EXCHANGES:
            return fake.factory(exchange_id)
        return default_exchange_factory(exchange_id)

    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))
    only_bad = CcxtSource(["nosuchexchange"], clock=lambda: fake.now)
    bad_then_good = CcxtSource(
        ["nosuchexchange", "kraken"], clock=lambda: fake.now, exchange_factory=factory
    )
    try:
        failed = (await only_bad.fetch([FetchRequest(BTC, targets)]))["BTC"]
        recovered = observed((await bad_then_good.fetch([FetchRequest(BTC, targets)]))["BTC"])
    finally:
        await only_bad.close()
        await bad_then_good.close()

    assert isinstance(failed, PermanentDataError)
    assert "nosuchexchange" in str(failed)
    assert recovered.origin == "ccxt:kraken"


# ---- failures -------------------------------------------------------------------------------


async def test_all_exchanges_down_is_temporary_and_names_each(
    fake: FakeExchanges, source: CcxtSource
) -> None:
    """With every exchange down the result is a TemporaryDataError listing each exchange."""
    fake.geo_block("kraken")
    fake.hang("bitstamp")
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))

    error = (await source.fetch([FetchRequest(BTC, targets)]))["BTC"]

    assert isinstance(error, TemporaryDataError)
    message = str(error)
    assert "kraken: ExchangeNotAvailable (HTTP 451 Unavailable For Legal Reasons)" in message
    assert "bitstamp: RequestTimeout" in message
    assert "http" not in message.replace("HTTP", "")
    assert "127.0.0.1" not in message


async def test_pair_unknown_everywhere_is_permanent(
    fake: FakeExchanges, source: CcxtSource
) -> None:
    """A pair no exchange lists is a PermanentDataError naming every exchange."""
    for exchange in EXCHANGES:
        fake.delist(exchange, "BTC/USD")
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))

    error = (await source.fetch([FetchRequest(BTC, targets)]))["BTC"]

    assert isinstance(error, PermanentDataError)
    assert "kraken: BadSymbol" in str(error)
    assert "bitstamp: BadSymbol" in str(error)


async def test_any_temporary_failure_makes_the_whole_failure_temporary(
    fake: FakeExchanges, source: CcxtSource
) -> None:
    """One permanent and one temporary failure together are reported as temporary."""
    fake.delist("kraken", "BTC/USD")
    fake.inject("bitstamp", Fault(status=503))
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))

    error = (await source.fetch([FetchRequest(BTC, targets)]))["BTC"]

    assert isinstance(error, TemporaryDataError)


async def test_missing_ccxt_market_is_permanent(fake: FakeExchanges, source: CcxtSource) -> None:
    """An asset without a ccxt market fails permanently without any request."""
    asset = Asset("PSCT", AssetKind.EQUITY, yahoo="PSCT")
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))

    error = (await source.fetch([FetchRequest(asset, targets)]))["PSCT"]

    assert isinstance(error, PermanentDataError)
    assert "PSCT" in str(error)
    assert fake.requests == []


async def test_one_symbol_failure_does_not_hide_another(
    fake: FakeExchanges, source: CcxtSource
) -> None:
    """A symbol nobody lists fails alone; the other symbol still gets its closes."""
    for exchange in EXCHANGES:
        fake.delist(exchange, "ETH/USD")
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))

    results = await source.fetch([FetchRequest(BTC, targets), FetchRequest(ETH, targets)])

    assert isinstance(results["ETH"], PermanentDataError)
    assert len(observed(results["BTC"]).closes) == len(targets)


@pytest.mark.parametrize(
    ("error", "expected_type"),
    [
        (ccxt.NetworkError("kraken GET https://api.kraken.com/0/public/OHLC"), TemporaryDataError),
        (ccxt.DDoSProtection("kraken {}"), TemporaryDataError),
        (ccxt.InvalidNonce("nonce"), TemporaryDataError),
        (ccxt.BadResponse("garbage"), TemporaryDataError),
        (ccxt.NotSupported("no fetchOHLCV"), PermanentDataError),
        (ccxt.AuthenticationError("kraken {}"), PermanentDataError),
        (ccxt.ExchangeClosedByUser("closed"), PermanentDataError),
        (ccxt.BaseError("odd"), PermanentDataError),
        (KeyError("result"), TemporaryDataError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
async def test_raw_ccxt_exception_never_escapes(
    error: Exception, expected_type: type[Exception]
) -> None:
    """Whatever ccxt raises comes back as our own DataError in the result, not raised."""
    stub = StubExchange(error=error)
    source = CcxtSource(["kraken"], clock=lambda: NOW, exchange_factory=lambda _: stub)
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))

    result = (await source.fetch([FetchRequest(BTC, targets)]))["BTC"]
    await source.close()

    assert type(result) is expected_type
    assert "kraken" in str(result)


def test_error_reason_drops_urls_and_bodies() -> None:
    """A ccxt HTTP error is summarised as class and status, without URL or response body."""
    raw = ccxt.ExchangeNotAvailable(
        "kraken GET https://api.kraken.com/0/public/OHLC?pair=XXBTZUSD 503 Service Unavailable "
        "<html><body>secret-looking body</body></html>"
    )

    assert str(_translate(raw)) == "ExchangeNotAvailable (HTTP 503 Service Unavailable)"


# ---- bounded pagination -----------------------------------------------------------------------


async def test_pages_that_do_not_advance_stop_the_loop() -> None:
    """An exchange repeating the same page is asked at most twice."""
    opened = int(pd.Timestamp("2024-11-25 20:00", tz="UTC").timestamp() * 1000)
    stub = StubExchange(pages=[[[opened, 1.0, 1.0, 1.0, 2.0, 0.0]]])
    source = CcxtSource(["kraken"], clock=lambda: NOW, exchange_factory=lambda _: stub)
    targets = session_closes(date(2024, 11, 25), date(2024, 12, 2))

    result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])
    await source.close()

    assert len(stub.calls) == 2
    assert result.closes.to_dict() == {pd.Timestamp("2024-11-25 21:00", tz="UTC"): 2.0}


async def test_max_pages_bounds_the_requests(
    fake: FakeExchanges, caplog: pytest.LogCaptureFixture
) -> None:
    """No more than max_pages pages are requested; the closes found so far are kept."""
    fake.page_size = 24
    source = make_source(fake, ["kraken"], max_pages=3)
    targets = session_closes(date(2024, 11, 4), date(2024, 11, 29))
    try:
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            result = observed((await source.fetch([FetchRequest(BTC, targets)]))["BTC"])
    finally:
        await source.close()

    assert len(fake.ohlc_requests("kraken")) == 3
    assert list(result.closes.index) == list(targets[:3])
    assert any("3 pages" in r.getMessage() for r in caplog.records)


# ---- life cycle ---------------------------------------------------------------------------------


async def test_exchange_instances_are_created_once_and_reused(
    fake: FakeExchanges, source: CcxtSource
) -> None:
    """Two fetches use one client per exchange and load its markets once."""
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))

    await source.fetch([FetchRequest(BTC, targets), FetchRequest(ETH, targets)])
    await source.fetch([FetchRequest(BTC, targets)])

    assert [exchange.id for exchange in fake.created] == ["kraken"]
    markets = [r for r in fake.requests if r.endpoint == "markets"]
    assert [r.path for r in markets] == ["/kraken/0/public/Assets", "/kraken/0/public/AssetPairs"]


async def test_close_closes_every_exchange_session(fake: FakeExchanges) -> None:
    """close() closes the HTTP session of every exchange that was used."""
    fake.geo_block("kraken")
    source = make_source(fake, ["kraken", "bitstamp"])
    targets = session_closes(date(2024, 11, 25), date(2024, 11, 26))
    await source.fetch([FetchRequest(BTC, targets)])
    sessions = [exchange.session for exchange in fake.created]
    assert len(sessions) == 2
    assert all(session is not None and not session.closed for session in sessions)

    await source.close()

    assert all(session.closed for session in sessions)
    assert all(exchange.session is None for exchange in fake.created)


def test_constructor_rejects_bad_configuration() -> None:
    """No exchange ids, a bare string, or max_pages below 1 are configuration errors."""
    with pytest.raises(ConfigError):
        CcxtSource([], clock=lambda: NOW)
    with pytest.raises(ConfigError):
        CcxtSource("kraken", clock=lambda: NOW)
    with pytest.raises(ConfigError):
        CcxtSource(["kraken"], clock=lambda: NOW, max_pages=0)
