"""YFinanceSource at the ``download`` seam, fed frames shaped like yfinance 1.7's.

``yahoo_frame`` assembles per-ticker history frames the way ``yfinance.multi.download``
does (union index, ``Ticker``/``Price`` keys swapped to (field, ticker) columns, sorted,
naive dates with ``ignore_tz=True``, an extra ``Adj Close`` column for failed tickers);
one test checks that against the real ``yfinance.download`` with ``Ticker`` stubbed out.
yfinance 1.x swallows per-ticker failures, rate limits included, and only logs them;
fakes reproduce that by logging to the ``yfinance`` logger.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
import requests
import yfinance
import yfinance.multi
from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError
from yfinance.exceptions import YFPricesMissingError, YFRateLimitError

from bot.core.calendar import TradingCalendar, nyse
from bot.core.errors import DataError, PermanentDataError, TemporaryDataError
from bot.core.models import Asset, AssetKind
from bot.core.sources.base import FetchRequest, Observations, crypto_daily_close_times
from bot.core.sources.yfinance_source import YFinanceSource

PSCT = Asset("PSCT", AssetKind.EQUITY, yahoo="PSCT")
XSW = Asset("XSW", AssetKind.EQUITY)
BTC = Asset("BTC", AssetKind.CRYPTO, ccxt="BTC/USD", yahoo="BTC-USD")
LATER = datetime(2025, 1, 6, tzinfo=UTC)
RATE_LIMITED = "YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"
yf_log = logging.getLogger("yfinance")


# --- frames shaped like yfinance's -------------------------------------------------------


def history(closes: Mapping[str, float], tz: str) -> pd.DataFrame:
    """One ticker as ``Ticker.history(auto_adjust=True, actions=False)`` returns it."""
    index = pd.DatetimeIndex([pd.Timestamp(day) for day in closes], name="Date").tz_localize(tz)
    close = np.array(list(closes.values()), dtype="float64")
    return pd.DataFrame(
        {
            "Open": close * 0.99,
            "High": close * 1.01,
            "Low": close * 0.98,
            "Close": close,
            "Volume": np.full(len(close), 1_000, dtype="int64"),
        },
        index=index,
    )


def empty_history() -> pd.DataFrame:
    """Return what yfinance substitutes for a failed ticker (``utils.empty_df``)."""
    return yfinance.utils.empty_df()


def yahoo_frame(
    per_ticker: Mapping[str, pd.DataFrame],
    *,
    ignore_tz: bool = True,
    multi_level_index: bool = True,
) -> pd.DataFrame:
    """Assemble per-ticker frames like ``yfinance.download(..., group_by='column')``."""
    dfs = {ticker: df.copy() for ticker, df in per_ticker.items()}
    filled = [df for df in dfs.values() if not df.empty]
    if ignore_tz:
        for df in filled:
            df.index = df.index.tz_localize(None)
    elif filled:
        tzs = pd.Series([str(df.index.tz) for df in filled])
        for df in filled:
            df.index = df.index.tz_convert(tzs.mode().iloc[0])
    index = pd.DatetimeIndex([])
    for df in filled:
        index = df.index if index.empty else index.union(df.index)
    dfs = {ticker: df.reindex(index) for ticker, df in dfs.items()}
    data = pd.concat(dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    data = data.sort_index(level=0, axis=1)
    if not multi_level_index and len(dfs) == 1:
        data = data.droplevel(1, axis=1).rename_axis(None, axis=1)
    return data


def equity(closes: Mapping[str, float], tz: str = "America/New_York") -> pd.DataFrame:
    """Daily equity bars as Yahoo labels them (exchange-local midnight)."""
    return history(closes, tz)


def crypto(closes: Mapping[str, float]) -> pd.DataFrame:
    """Daily crypto bars: Yahoo's crypto exchange timezone is UTC."""
    return history(closes, "UTC")


# --- fakes -------------------------------------------------------------------------------

Reply = pd.DataFrame | BaseException | Callable[[], pd.DataFrame]


class FakeDownload:
    """Stands in for ``yfinance.download``: replays replies and records every call."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[list[str], dict[str, Any]]] = []
        self.threads: list[int] = []

    def __call__(self, tickers: list[str], **kwargs: Any) -> pd.DataFrame:
        self.calls.append((list(tickers), kwargs))
        self.threads.append(threading.get_ident())
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, BaseException):
            raise reply
        if callable(reply):
            return reply()
        return reply


def logging_failures(frame: pd.DataFrame, **reasons: str) -> Callable[[], pd.DataFrame]:
    """Build a reply that logs failures the way yfinance 1.7's download does."""

    def reply() -> pd.DataFrame:
        yf_log.error("\n%.f Failed download%s:", len(reasons), "s" if len(reasons) > 1 else "")
        for ticker, reason in reasons.items():
            yf_log.error(f"['{ticker}']: {reason}")
        return frame

    return reply


class Sleeps:
    """Records requested pauses instead of sleeping."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return nyse()


def make_source(
    calendar: TradingCalendar,
    download: FakeDownload | Callable[..., pd.DataFrame],
    *,
    now: datetime = LATER,
    sleeps: Sleeps | None = None,
) -> YFinanceSource:
    return YFinanceSource(calendar, clock=lambda: now, download=download, sleep=sleeps or Sleeps())


def equity_request(asset: Asset, calendar: TradingCalendar, first: str, last: str) -> FetchRequest:
    closes = calendar.closes(date.fromisoformat(first), date.fromisoformat(last))
    return FetchRequest(asset, pd.DatetimeIndex(closes.to_numpy()))


def crypto_request(asset: Asset, first: str, last: str) -> FetchRequest:
    days = pd.date_range(first, last, freq="D")
    return FetchRequest(asset, crypto_daily_close_times(days))


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def observed(result: Observations | DataError) -> dict[pd.Timestamp, float]:
    assert isinstance(result, Observations), result
    return dict(result.closes.items())


NOV = {"2024-11-25": 60.0, "2024-11-26": 61.0, "2024-11-27": 62.0, "2024-11-29": 63.0}


# --- the request -------------------------------------------------------------------------


async def test_one_batched_call_with_explicit_options(calendar: TradingCalendar) -> None:
    """All tickers go into a single download with auto_adjust and friends passed explicitly."""
    frame = yahoo_frame(
        {"PSCT": equity(NOV), "XSW": equity(NOV), "BTC-USD": crypto({"2024-11-27": 9e4})}
    )
    download = FakeDownload(frame)
    source = make_source(calendar, download)
    await source.fetch(
        [
            equity_request(PSCT, calendar, "2024-11-25", "2024-11-29"),
            equity_request(XSW, calendar, "2024-11-25", "2024-11-29"),
            crypto_request(BTC, "2024-11-25", "2024-11-28"),
        ]
    )
    assert len(download.calls) == 1
    tickers, kwargs = download.calls[0]
    assert sorted(tickers) == ["BTC-USD", "PSCT", "XSW"]
    assert kwargs["auto_adjust"] is True
    assert kwargs["interval"] == "1d"
    assert kwargs["actions"] is False
    assert kwargs["progress"] is False
    assert kwargs["multi_level_index"] is True


async def test_date_range_covers_targets_with_exclusive_end(calendar: TradingCalendar) -> None:
    """Start leaves room for crypto bar D (closing D+1); end is the day after the last target."""
    download = FakeDownload(yahoo_frame({"PSCT": equity(NOV)}))
    await make_source(calendar, download).fetch(
        [equity_request(PSCT, calendar, "2024-11-25", "2024-11-29")]
    )
    _, kwargs = download.calls[0]
    assert kwargs["start"] <= "2024-11-24"
    assert kwargs["end"] == "2024-11-30"


async def test_requests_without_targets_skip_the_download(calendar: TradingCalendar) -> None:
    """Nothing wanted means no network call and an empty answer."""
    download = FakeDownload(RuntimeError("must not be called"))
    results = await make_source(calendar, download).fetch(
        [FetchRequest(PSCT, pd.DatetimeIndex([], tz="UTC"))]
    )
    assert download.calls == []
    assert observed(results["PSCT"]) == {}


# --- mapping bars to instants ------------------------------------------------------------


async def test_equity_closes_land_on_regular_session_close(calendar: TradingCalendar) -> None:
    """A regular session's bar is observed at 16:00 New York, in winter and in summer time."""
    frame = yahoo_frame({"PSCT": equity({"2024-07-02": 50.0, "2024-11-26": 61.0})})
    request = FetchRequest(
        PSCT, pd.DatetimeIndex([utc("2024-07-02 20:00"), utc("2024-11-26 21:00")])
    )
    results = await make_source(calendar, FakeDownload(frame)).fetch([request])
    assert observed(results["PSCT"]) == {
        utc("2024-07-02 20:00"): 50.0,
        utc("2024-11-26 21:00"): 61.0,
    }


async def test_equity_closes_land_on_early_close(calendar: TradingCalendar) -> None:
    """Early-close sessions (2024-07-03, 2024-11-29) are observed at 13:00 New York."""
    frame = yahoo_frame({"PSCT": equity({"2024-07-03": 51.0, "2024-11-29": 63.0})})
    request = FetchRequest(
        PSCT, pd.DatetimeIndex([utc("2024-07-03 17:00"), utc("2024-11-29 18:00")])
    )
    results = await make_source(calendar, FakeDownload(frame)).fetch([request])
    assert observed(results["PSCT"]) == {
        utc("2024-07-03 17:00"): 51.0,
        utc("2024-11-29 18:00"): 63.0,
    }


async def test_non_session_dates_are_dropped(calendar: TradingCalendar) -> None:
    """A bar dated on a holiday or weekend has no session close and is not reported."""
    bars = {"2024-11-27": 62.0, "2024-11-28": 99.0, "2024-11-30": 98.0, "2024-12-02": 64.0}
    frame = yahoo_frame({"PSCT": equity(bars)})
    request = equity_request(PSCT, calendar, "2024-11-27", "2024-12-02")
    results = await make_source(calendar, FakeDownload(frame)).fetch([request])
    assert observed(results["PSCT"]) == {
        utc("2024-11-27 21:00"): 62.0,
        utc("2024-12-02 21:00"): 64.0,
    }


async def test_crypto_daily_bar_closes_at_next_midnight_utc(calendar: TradingCalendar) -> None:
    """Crypto bar D is the close observed at D+1 00:00 UTC."""
    frame = yahoo_frame({"BTC-USD": crypto({"2024-11-29": 97_000.0, "2024-11-30": 96_500.0})})
    request = crypto_request(BTC, "2024-11-29", "2024-11-30")
    results = await make_source(calendar, FakeDownload(frame)).fetch([request])
    assert observed(results["BTC"]) == {
        utc("2024-11-30 00:00"): 97_000.0,
        utc("2024-12-01 00:00"): 96_500.0,
    }


async def test_weekend_nan_rows_of_mixed_batch_are_ignored(calendar: TradingCalendar) -> None:
    """Crypto weekend rows leave NaN equity cells in the shared index; they are not prices."""
    frame = yahoo_frame(
        {
            "PSCT": equity({"2024-11-29": 63.0, "2024-12-02": 64.0}),
            "BTC-USD": crypto({"2024-11-29": 1.0, "2024-11-30": 2.0, "2024-12-01": 3.0}),
        }
    )
    assert frame[("Close", "PSCT")].isna().sum() == 2
    results = await make_source(calendar, FakeDownload(frame)).fetch(
        [
            equity_request(PSCT, calendar, "2024-11-29", "2024-12-02"),
            crypto_request(BTC, "2024-11-29", "2024-12-01"),
        ]
    )
    assert list(observed(results["PSCT"]).values()) == [63.0, 64.0]
    assert list(observed(results["BTC"]).values()) == [1.0, 2.0, 3.0]


async def test_tz_aware_index_uses_exchange_local_date(calendar: TradingCalendar) -> None:
    """With ignore_tz=False the index is tz-aware; the local calendar date still decides."""
    frame = yahoo_frame({"PSCT": equity({"2024-11-26": 61.0, "2024-11-29": 63.0})}, ignore_tz=False)
    assert str(pd.DatetimeIndex(frame.index).tz) == "America/New_York"
    request = equity_request(PSCT, calendar, "2024-11-26", "2024-11-29")
    results = await make_source(calendar, FakeDownload(frame)).fetch([request])
    assert observed(results["PSCT"]) == {
        utc("2024-11-26 21:00"): 61.0,
        utc("2024-11-29 18:00"): 63.0,
    }


async def test_flat_columns_of_single_ticker_download(calendar: TradingCalendar) -> None:
    """A one-ticker frame without the ticker level (multi_level_index=False) is read too."""
    frame = yahoo_frame({"PSCT": equity({"2024-11-26": 61.0})}, multi_level_index=False)
    assert list(frame.columns) == ["Close", "High", "Low", "Open", "Volume"]
    request = equity_request(PSCT, calendar, "2024-11-26", "2024-11-26")
    results = await make_source(calendar, FakeDownload(frame)).fetch([request])
    assert observed(results["PSCT"]) == {utc("2024-11-26 21:00"): 61.0}


async def test_closes_restricted_to_targets_with_origin(calendar: TradingCalendar) -> None:
    """Bars outside the requested instants are left out; the origin is 'yfinance'."""
    frame = yahoo_frame({"PSCT": equity(NOV)})
    request = FetchRequest(PSCT, pd.DatetimeIndex([utc("2024-11-26 21:00")]))
    result = (await make_source(calendar, FakeDownload(frame)).fetch([request]))["PSCT"]
    assert isinstance(result, Observations)
    assert result.origin == "yfinance"
    assert result.closes.dtype == "float64"
    assert list(result.closes.index) == [utc("2024-11-26 21:00")]


async def test_unfinished_equity_session_is_dropped(calendar: TradingCalendar) -> None:
    """Before the 13:00 early close Yahoo's bar holds a live price, so it is not reported."""
    frame = yahoo_frame({"PSCT": equity({"2024-11-27": 62.0, "2024-11-29": 63.5})})
    request = equity_request(PSCT, calendar, "2024-11-27", "2024-11-29")
    now = datetime(2024, 11, 29, 17, 59, tzinfo=UTC)
    results = await make_source(calendar, FakeDownload(frame), now=now).fetch([request])
    assert observed(results["PSCT"]) == {utc("2024-11-27 21:00"): 62.0}


async def test_unfinished_crypto_day_is_dropped(calendar: TradingCalendar) -> None:
    """Today's crypto bar closes at the next midnight UTC, so it is not reported yet."""
    frame = yahoo_frame({"BTC-USD": crypto({"2024-11-29": 97_000.0, "2024-11-30": 96_000.0})})
    request = crypto_request(BTC, "2024-11-29", "2024-11-30")
    now = datetime(2024, 11, 30, 23, 0, tzinfo=UTC)
    results = await make_source(calendar, FakeDownload(frame), now=now).fetch([request])
    assert observed(results["BTC"]) == {utc("2024-11-30 00:00"): 97_000.0}


# --- failures ----------------------------------------------------------------------------


async def test_raised_rate_limit_is_retried_then_succeeds(calendar: TradingCalendar) -> None:
    """A raised YFRateLimitError is retried after exponentially growing pauses."""
    frame = yahoo_frame({"PSCT": equity(NOV)})
    download = FakeDownload(YFRateLimitError(), YFRateLimitError(), frame)
    sleeps = Sleeps()
    request = equity_request(PSCT, calendar, "2024-11-25", "2024-11-29")
    results = await make_source(calendar, download, sleeps=sleeps).fetch([request])
    assert len(observed(results["PSCT"])) == 4
    assert sleeps.seconds == [2.0, 4.0]
    assert len(download.calls) == 3


async def test_logged_rate_limit_retries_only_that_ticker(calendar: TradingCalendar) -> None:
    """A rate limit yfinance 1.7 swallowed and logged is retried for that ticker alone."""
    first = yahoo_frame({"PSCT": equity(NOV), "XSW": empty_history()})
    download = FakeDownload(
        logging_failures(first, XSW=RATE_LIMITED), yahoo_frame({"XSW": equity(NOV)})
    )
    sleeps = Sleeps()
    results = await make_source(calendar, download, sleeps=sleeps).fetch(
        [
            equity_request(PSCT, calendar, "2024-11-25", "2024-11-29"),
            equity_request(XSW, calendar, "2024-11-25", "2024-11-29"),
        ]
    )
    assert [tickers for tickers, _ in download.calls] == [["PSCT", "XSW"], ["XSW"]]
    assert sleeps.seconds == [2.0]
    assert len(observed(results["PSCT"])) == 4
    assert len(observed(results["XSW"])) == 4


async def test_rate_limit_exhausted_is_temporary(calendar: TradingCalendar) -> None:
    """After ``retries`` pauses a persisting rate limit becomes a TemporaryDataError."""
    download = FakeDownload(YFRateLimitError())
    sleeps = Sleeps()
    request = equity_request(PSCT, calendar, "2024-11-25", "2024-11-29")
    results = await make_source(calendar, download, sleeps=sleeps).fetch([request])
    assert isinstance(results["PSCT"], TemporaryDataError)
    assert "PSCT" in str(results["PSCT"])
    assert "rate-limited" in str(results["PSCT"])
    assert sleeps.seconds == [2.0, 4.0, 8.0, 16.0]
    assert len(download.calls) == 5


async def test_empty_column_errors_that_symbol_only(calendar: TradingCalendar) -> None:
    """A ticker yfinance gave no rows for gets an error; the others are still returned."""
    frame = yahoo_frame({"PSCT": equity(NOV), "XSW": empty_history()})
    download = FakeDownload(
        logging_failures(
            frame, XSW="possibly delisted; no price data found (1d 2024-11-20 -> 2024-11-30)"
        )
    )
    results = await make_source(calendar, download).fetch(
        [
            equity_request(PSCT, calendar, "2024-11-25", "2024-11-29"),
            equity_request(XSW, calendar, "2024-11-25", "2024-11-29"),
        ]
    )
    assert len(observed(results["PSCT"])) == 4
    error = results["XSW"]
    assert isinstance(error, TemporaryDataError)
    assert "XSW" in str(error)
    assert "no price data found" in str(error)


async def test_entirely_empty_frame_errors_every_symbol(calendar: TradingCalendar) -> None:
    """When nothing came back at all, every symbol gets a TemporaryDataError naming it."""
    frame = yahoo_frame({"PSCT": empty_history(), "BTC-USD": empty_history()})
    assert frame.empty
    results = await make_source(calendar, FakeDownload(frame)).fetch(
        [
            equity_request(PSCT, calendar, "2024-11-25", "2024-11-29"),
            crypto_request(BTC, "2024-11-25", "2024-11-28"),
        ]
    )
    for symbol, ticker in (("PSCT", "PSCT"), ("BTC", "BTC-USD")):
        assert isinstance(results[symbol], TemporaryDataError)
        assert ticker in str(results[symbol])


async def test_yahoo_unknown_symbol_is_permanent(calendar: TradingCalendar) -> None:
    """Only Yahoo's own 'symbol may be delisted' reason makes the failure permanent."""
    frame = yahoo_frame({"PSCT": empty_history()})
    reason = str(
        YFPricesMissingError("PSCT", "", yahoo_reason="No data found, symbol may be delisted")
    )
    download = FakeDownload(logging_failures(frame, PSCT=reason.removeprefix("$PSCT: ")))
    request = equity_request(PSCT, calendar, "2024-11-25", "2024-11-29")
    results = await make_source(calendar, download).fetch([request])
    assert isinstance(results["PSCT"], PermanentDataError)
    assert "PSCT" in str(results["PSCT"])


async def test_speculative_delisting_stays_temporary(calendar: TradingCalendar) -> None:
    """The guess 'possibly delisted; no timezone found' also follows network failures."""
    frame = yahoo_frame({"PSCT": empty_history()})
    download = FakeDownload(logging_failures(frame, PSCT="possibly delisted; no timezone found"))
    request = equity_request(PSCT, calendar, "2024-11-25", "2024-11-29")
    results = await make_source(calendar, download).fetch([request])
    assert isinstance(results["PSCT"], TemporaryDataError)


async def test_other_threads_log_lines_are_ignored(calendar: TradingCalendar) -> None:
    """A rate limit logged by a concurrent download elsewhere does not trigger our retries."""
    frame = yahoo_frame({"PSCT": empty_history()})

    def reply() -> pd.DataFrame:
        other = threading.Thread(target=yf_log.error, args=(f"['PSCT']: {RATE_LIMITED}",))
        other.start()
        other.join()
        return frame

    sleeps = Sleeps()
    request = equity_request(PSCT, calendar, "2024-11-25", "2024-11-29")
    results = await make_source(calendar, FakeDownload(reply), sleeps=sleeps).fetch([request])
    assert isinstance(results["PSCT"], TemporaryDataError)
    assert sleeps.seconds == []


@pytest.mark.parametrize(
    "exc",
    [
        CurlConnectionError("Failed to perform, curl: (7) Couldn't connect to server"),
        requests.ConnectionError("Max retries exceeded"),
        TimeoutError("timed out"),
        KeyError("chart"),
        ValueError("Expecting value: line 1 column 1 (char 0)"),
    ],
)
async def test_no_raw_exception_escapes(calendar: TradingCalendar, exc: Exception) -> None:
    """Network and unexpected errors become a TemporaryDataError per symbol, naming it."""
    results = await make_source(calendar, FakeDownload(exc)).fetch(
        [
            equity_request(PSCT, calendar, "2024-11-25", "2024-11-29"),
            crypto_request(BTC, "2024-11-25", "2024-11-28"),
        ]
    )
    for symbol in ("PSCT", "BTC"):
        assert isinstance(results[symbol], TemporaryDataError)
        assert symbol in str(results[symbol])
        assert type(exc).__name__ in str(results[symbol])


async def test_unreadable_frame_is_temporary(calendar: TradingCalendar) -> None:
    """A frame whose index is not dates becomes an error instead of a pandas exception."""
    frame = pd.DataFrame({("Close", "PSCT"): [1.0]}, index=["not a date"])
    request = equity_request(PSCT, calendar, "2024-11-25", "2024-11-29")
    results = await make_source(calendar, FakeDownload(frame)).fetch([request])
    assert isinstance(results["PSCT"], TemporaryDataError)


async def test_download_runs_off_the_event_loop(calendar: TradingCalendar) -> None:
    """The blocking download runs in a worker thread, not the event loop's."""
    download = FakeDownload(yahoo_frame({"PSCT": equity(NOV)}))
    request = equity_request(PSCT, calendar, "2024-11-25", "2024-11-29")
    await make_source(calendar, download).fetch([request])
    assert download.threads
    assert download.threads[0] != threading.get_ident()


# --- against the real yfinance.download -----------------------------------------------------


class StubTicker:
    """Replaces ``yfinance.Ticker`` inside the real download: canned history, no network."""

    canned: dict[str, pd.DataFrame | BaseException] = {}  # noqa: RUF012 - set per test

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self._price_history = type("PriceHistory", (), {"_last_error": None})()

    def history(self, **_: Any) -> pd.DataFrame:
        reply = self.canned[self.ticker]
        if isinstance(reply, YFPricesMissingError):
            # What PriceHistory.history does with yfinance's default hide_exceptions.
            message = str(reply)
            self._price_history._last_error = message.split(": ", 1)[1]
            yf_log.error(message)
            return empty_history()
        if isinstance(reply, BaseException):
            raise reply
        return reply


@pytest.fixture
def stub_ticker(monkeypatch: pytest.MonkeyPatch) -> type[StubTicker]:
    monkeypatch.setattr(yfinance.multi, "Ticker", StubTicker)
    return StubTicker


def test_fake_frames_match_real_download(stub_ticker: type[StubTicker]) -> None:
    """``yahoo_frame`` builds exactly what yfinance.download assembles from the same bars."""
    stub_ticker.canned = {
        "PSCT": equity(NOV),
        "BTC-USD": crypto({"2024-11-29": 1.0, "2024-11-30": 2.0}),
        "XSW": YFPricesMissingError("XSW", ""),
    }
    real = yfinance.download(
        ["PSCT", "BTC-USD", "XSW"],
        start="2024-11-20",
        end="2024-12-01",
        auto_adjust=True,
        actions=False,
        progress=False,
        threads=False,
    )
    fake = yahoo_frame(
        {
            "PSCT": equity(NOV),
            "BTC-USD": crypto({"2024-11-29": 1.0, "2024-11-30": 2.0}),
            "XSW": empty_history(),
        }
    )
    pd.testing.assert_frame_equal(real, fake, check_freq=False)


async def test_real_download_rate_limit_is_detected(
    calendar: TradingCalendar, stub_ticker: type[StubTicker]
) -> None:
    """The real download swallows YFRateLimitError; the source still sees it and retries."""
    stub_ticker.canned = {"PSCT": equity(NOV), "BTC-USD": YFRateLimitError()}
    sleeps = Sleeps()
    source = YFinanceSource(calendar, clock=lambda: LATER, sleep=sleeps, retries=1)
    results = await source.fetch(
        [
            equity_request(PSCT, calendar, "2024-11-25", "2024-11-29"),
            crypto_request(BTC, "2024-11-25", "2024-11-28"),
        ]
    )
    assert len(observed(results["PSCT"])) == 4
    assert isinstance(results["BTC"], TemporaryDataError)
    assert sleeps.seconds == [2.0]
