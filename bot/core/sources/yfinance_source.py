"""Daily closes from Yahoo Finance through yfinance: the equity source and a crypto fallback.

Yahoo serves daily bars labelled with the exchange-local date; this source maps them to the
observation instants of :mod:`bot.core.sources.base` (NYSE session close for equities, next
00:00 UTC for crypto) and never reports a bar that has not closed yet, because Yahoo's bar
for the running session carries the live price.

yfinance rarely raises: ``yfinance.download`` swallows per-ticker failures (rate limits
included), returns empty or all-NaN columns, and only *logs* why. (1.x no longer fills
``yfinance.shared._ERRORS``.) So the download runs with a handler on the ``yfinance`` logger
that keeps the error lines logged by the downloading thread, and those lines decide between
"retry after a pause", "retry later" and "the ticker is wrong". For that to work the
``yfinance`` logger must not be set above ``ERROR``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any, ClassVar

import pandas as pd
import yfinance
from yfinance.exceptions import YFRateLimitError

from bot.core.calendar import TradingCalendar
from bot.core.clock import Clock
from bot.core.errors import DataError, PermanentDataError, TemporaryDataError
from bot.core.sources.base import (
    FetchRequest,
    FetchResults,
    Observations,
    PriceSource,
    crypto_daily_close_times,
    equity_close_times,
    restrict_to_targets,
)

__all__ = ["YFinanceSource"]

log = logging.getLogger(__name__)

#: Days fetched before the earliest target: a crypto close at D+1 00:00 is bar D, and a
#: little slack costs nothing.
_LEAD = timedelta(days=5)

#: Summary lines yfinance logs after a batch: ``['BAD', 'X']: reason``; and per-ticker
#: lines ``$BAD: reason`` (logged in the caller's thread when ``threads=False``).
_BATCH_LINE = re.compile(r"^\s*\[(?P<tickers>[^\]]*)\]:\s*(?P<reason>.+)$")
_TICKER_LINE = re.compile(r"^\s*\$(?P<ticker>[^\s:]+):\s*(?P<reason>.+)$")
_RATE_LIMITED = re.compile(r"YFRateLimitError|too many requests|rate.?limit", re.IGNORECASE)
#: Only Yahoo's own words count as "the symbol does not exist": yfinance prefixes its guesses
#: with "possibly delisted", which it also says when the network failed.
_GONE = re.compile(r"delisted|not found|invalid symbol|no such symbol", re.IGNORECASE)


class YFinanceSource(PriceSource):
    """Daily closes for equities and crypto from one batched ``yfinance.download`` per fetch."""

    name: ClassVar[str] = "yfinance"
    intraday: ClassVar[bool] = False
    batch_requests: ClassVar[bool] = True  # one download serves the whole batch

    def __init__(
        self,
        calendar: TradingCalendar,
        *,
        clock: Clock,
        download: Callable[..., pd.DataFrame] | None = None,
        retries: int = 4,
        backoff_seconds: float = 2.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._calendar = calendar
        self._clock = clock
        self._download = download if download is not None else yfinance.download
        self._retries = retries
        self._backoff = backoff_seconds
        self._sleep = sleep

    async def fetch(self, requests: Sequence[FetchRequest]) -> FetchResults:
        """Download all tickers at once; rate-limited ones are retried with backoff."""
        results: dict[str, Observations | DataError] = {}
        pending: dict[str, list[FetchRequest]] = {}
        for request in requests:
            if len(request.targets) == 0:
                results[request.asset.symbol] = _observations(request, pd.Series(dtype="float64"))
            else:
                pending.setdefault(request.asset.ticker.upper(), []).append(request)
        attempt = 0
        while pending:
            now = pd.Timestamp(self._clock())  # before the download: later bars may be live
            frame, failures = await self._download_batch(pending)
            limited = self._collect(pending, frame, failures, now, results)
            if limited and attempt >= self._retries:
                for ticker, batch in limited.items():
                    for request in batch:
                        results[request.asset.symbol] = TemporaryDataError(
                            f"{request.asset.symbol}: Yahoo Finance rate-limited the download of "
                            f"{ticker} {attempt + 1} times in a row; the next refresh retries"
                        )
                break
            if limited:
                delay = self._backoff * 2**attempt
                log.info("Yahoo rate limit on %s; retrying in %.0fs", sorted(limited), delay)
                await self._sleep(delay)
                attempt += 1
            pending = limited
        return results

    def _collect(
        self,
        pending: dict[str, list[FetchRequest]],
        frame: pd.DataFrame,
        failures: dict[str, str],
        now: pd.Timestamp,
        results: dict[str, Observations | DataError],
    ) -> dict[str, list[FetchRequest]]:
        """Store each ticker's outcome in ``results``; return the rate-limited ones to retry."""
        limited: dict[str, list[FetchRequest]] = {}
        for ticker, batch in pending.items():
            reason = failures.get(ticker, "")
            try:
                daily = _daily_closes(frame, ticker, alone=len(pending) == 1)
            except (ValueError, TypeError, KeyError) as exc:  # a frame shape we do not know
                daily, reason = pd.Series(dtype="float64"), f"unreadable frame: {exc!r}"
            if daily.empty and _RATE_LIMITED.search(reason):
                limited[ticker] = batch
                continue
            for request in batch:
                results[request.asset.symbol] = (
                    _no_data_error(request, reason)
                    if daily.empty
                    else _observations(request, self._instants(request, daily, now))
                )
        return limited

    async def _download_batch(
        self, pending: dict[str, list[FetchRequest]]
    ) -> tuple[pd.DataFrame, dict[str, str]]:
        """One download for every pending ticker; exceptions become per-ticker reasons."""
        targets = [request.targets for batch in pending.values() for request in batch]
        first = min(pd.Timestamp(t[0]) for t in targets).tz_convert("UTC")
        last = max(pd.Timestamp(t[-1]) for t in targets).tz_convert("UTC")
        start = (first - _LEAD).date().isoformat()
        end = (last + timedelta(days=1)).date().isoformat()  # yfinance's end is exclusive
        tickers = list(pending)
        try:
            return await asyncio.to_thread(self._download_logged, tickers, start, end)
        except YFRateLimitError as exc:
            reason = f"YFRateLimitError: {exc}"
        except OSError as exc:  # requests and curl_cffi errors are OSErrors; so is TimeoutError
            reason = f"network error talking to Yahoo Finance: {type(exc).__name__}: {exc}"
        except Exception as exc:  # no third-party error may escape a source
            reason = f"yfinance failed: {type(exc).__name__}: {exc}"
        return pd.DataFrame(), dict.fromkeys(tickers, reason)

    def _download_logged(
        self, tickers: list[str], start: str, end: str
    ) -> tuple[pd.DataFrame, dict[str, str]]:
        """Run the blocking download, keeping the failures yfinance logs instead of raising."""
        handler = _ThreadErrors()
        yf_logger = logging.getLogger("yfinance")
        yf_logger.addHandler(handler)
        try:
            frame = self._download(
                tickers,
                start=start,
                end=end,
                interval="1d",
                auto_adjust=True,  # explicit: the default flipped between yfinance versions
                actions=False,
                progress=False,
                # Sequential per-ticker requests: gentler on Yahoo's rate limiter, and
                # yfinance's thread pool is process-global state shared by all callers.
                threads=False,
                group_by="column",
                ignore_tz=True,  # index holds exchange-local dates
                multi_level_index=True,  # (field, ticker) columns even for one ticker
            )
        finally:
            yf_logger.removeHandler(handler)
        return (frame if frame is not None else pd.DataFrame()), handler.failures(tickers)

    def _instants(self, request: FetchRequest, daily: pd.Series, now: pd.Timestamp) -> pd.Series:
        """Re-index daily closes by observation instant, dropping bars not closed by ``now``."""
        days = pd.DatetimeIndex(daily.index)
        if request.asset.is_crypto:
            closes = pd.Series(daily.to_numpy(), index=crypto_daily_close_times(days))
        else:
            times = equity_close_times(days, self._calendar)
            instants = pd.DatetimeIndex(times).tz_convert("UTC")
            closes = pd.Series(daily.reindex(times.index).to_numpy(), index=instants)
        return closes[closes.index <= now]


class _ThreadErrors(logging.Handler):
    """Collects error lines yfinance logs from the thread that created this handler."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._thread = threading.get_ident()
        self._lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the message if it came from our thread (concurrent downloads log too)."""
        if record.thread == self._thread:
            self._lines.extend(record.getMessage().splitlines())

    def failures(self, tickers: Sequence[str]) -> dict[str, str]:
        """Return the reasons logged per requested ticker, joined when there are several."""
        wanted = {ticker.upper() for ticker in tickers}
        found: dict[str, list[str]] = {}
        for line in self._lines:
            if batch := _BATCH_LINE.match(line):
                names = re.findall(r"'([^']+)'", batch["tickers"])
                reason = batch["reason"]
            elif single := _TICKER_LINE.match(line):
                names, reason = [single["ticker"]], single["reason"]
            else:
                continue
            for name in names:
                if name.upper() in wanted and reason not in found.get(name.upper(), []):
                    found.setdefault(name.upper(), []).append(reason)
        return {ticker: "; ".join(reasons) for ticker, reasons in found.items()}


def _daily_closes(frame: pd.DataFrame, ticker: str, *, alone: bool) -> pd.Series:
    """Extract the closes of ``ticker``, indexed by naive local date, NaNs dropped.

    Handles (field, ticker) and (ticker, field) MultiIndex columns, flat columns when
    ``ticker`` was downloaded ``alone`` (``multi_level_index=False``), and a tz-aware or
    naive index.
    """
    columns = frame.columns
    column: Any = None
    if isinstance(columns, pd.MultiIndex):
        for key in columns:
            names = [str(part) for part in key]
            if "Close" in names and ticker in (name.upper() for name in names):
                column = key
                break
    elif alone and "Close" in columns:
        column = "Close"  # flat columns are only unambiguous for a one-ticker download
    if column is None or frame.empty:
        return pd.Series(dtype="float64")
    index = pd.DatetimeIndex(frame.index)
    if index.tz is not None:
        index = index.tz_localize(None)  # wall-clock time keeps the exchange-local date
    closes = pd.Series(
        pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64"),
        index=index.normalize(),
    )
    return closes.dropna()


def _observations(request: FetchRequest, closes: pd.Series) -> Observations:
    """Package what was found, restricted to the requested instants."""
    return Observations(
        request.asset.symbol, restrict_to_targets(closes, request.targets), YFinanceSource.name
    )


def _no_data_error(request: FetchRequest, reason: str) -> DataError:
    """Why a ticker came back empty; permanent only when Yahoo itself says it is unknown."""
    asset = request.asset
    said = f" (yfinance: {reason})" if reason else ""
    if reason and "possibly delisted" not in reason.lower() and _GONE.search(reason):
        return PermanentDataError(
            f"{asset.symbol}: Yahoo Finance does not know ticker {asset.ticker}{said}; "
            "fix the yahoo ticker in the universe configuration"
        )
    return TemporaryDataError(
        f"{asset.symbol}: Yahoo Finance returned no prices for {asset.ticker}{said}; "
        "the next refresh retries (check the yahoo ticker if this persists)"
    )
