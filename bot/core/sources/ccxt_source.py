"""Crypto closes from public exchange candles through ccxt, trying exchanges in order.

Why it works the way it does:

* **Timeframe.** Crypto must be priced at NYSE closes, which fall on whole hours, so hourly
  candles are fetched (observation time = open + 1 h). When every target is midnight UTC
  (daily history) daily candles do the same job with 24 times fewer requests
  (observation time = open + 1 day). See :mod:`bot.core.sources.base`.
* **Own pagination.** A plain ``since``/``limit`` loop instead of ccxt's ``paginate`` option:
  it stops past the last target, on an empty page, on a page that does not advance, and
  after ``max_pages`` pages, so a misbehaving exchange can never make it loop forever.
* **Fallback.** Any single exchange may be geo-blocked (HTTP 451), down, rate limiting, or
  not list the pair, so each symbol tries the configured exchanges in order and takes the
  first that has data.
* **Error boundary.** ccxt exceptions are translated here: the network family (timeouts,
  rate limits, exchange not available) becomes :class:`TemporaryDataError`, everything else
  (bad symbol, exchange or authentication errors) :class:`PermanentDataError`. Messages keep
  the ccxt class and HTTP status but drop URLs and response bodies.
* **Still-open candle.** Exchanges also return the candle in progress; its close is not a
  close yet, so candles ending after ``clock()`` are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import ccxt
import ccxt.async_support as ccxt_async
import pandas as pd

from bot.core.clock import Clock
from bot.core.errors import ConfigError, DataError, PermanentDataError, TemporaryDataError
from bot.core.sources.base import (
    FetchRequest,
    FetchResults,
    Observations,
    PriceSource,
    restrict_to_targets,
)

__all__ = ["CcxtSource", "ExchangeFactory", "default_exchange_factory"]

_log = logging.getLogger(__name__)

#: Builds the ccxt exchange for an id (ccxt is untyped, hence ``Any``); the test seam.
ExchangeFactory = Callable[[str], Any]

#: Page size when ccxt's ``features`` does not state one. ccxt states e.g. coinbase 300,
#: kraken 720, bitstamp and binance 1000; a server may still answer with fewer candles.
_DEFAULT_PAGE_LIMIT = 1000
_MS = pd.Timedelta(milliseconds=1)
_EPOCH = pd.Timestamp(0, tz="UTC")
_REQUEST_PREFIX = re.compile(r"^\S+ (?:GET|POST|PUT|DELETE|HEAD) https?://\S+\s*")
_URL = re.compile(r"https?://\S+")
_HTTP_STATUS = re.compile(r"^(\d{3})\b([^<{\[]*)")
_REASON_CHARS = 100


def default_exchange_factory(exchange_id: str) -> Any:
    """Build a public (key-less) ccxt client with ccxt's rate limiter and a 20 s timeout."""
    if exchange_id not in ccxt_async.exchanges:
        raise PermanentDataError(
            f"unknown ccxt exchange id {exchange_id!r} (valid ids are listed in ccxt.exchanges)"
        )
    return getattr(ccxt_async, exchange_id)({"enableRateLimit": True, "timeout": 20000})


class CcxtSource(PriceSource):
    """Hourly or daily crypto closes from the first of ``exchange_ids`` that can serve them."""

    name: ClassVar[str] = "ccxt"
    intraday: ClassVar[bool] = True

    def __init__(
        self,
        exchange_ids: Sequence[str],
        *,
        clock: Clock,
        exchange_factory: ExchangeFactory | None = None,
        max_pages: int = 500,
    ) -> None:
        if isinstance(exchange_ids, str) or not exchange_ids:
            raise ConfigError("the ccxt source needs a list of at least one exchange id")
        if max_pages < 1:
            raise ConfigError(f"max_pages must be at least 1, got {max_pages}")
        self._exchange_ids = tuple(exchange_ids)
        self._clock = clock
        self._factory = exchange_factory or default_exchange_factory
        self._max_pages = max_pages
        self._exchanges: dict[str, Any] = {}

    async def fetch(self, requests: Sequence[FetchRequest]) -> FetchResults:
        """Fetch all symbols concurrently; each symbol's failure is returned, not raised."""
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(self._fetch_symbol(request)) for request in requests]
        return {
            request.asset.symbol: task.result()
            for request, task in zip(requests, tasks, strict=True)
        }

    async def close(self) -> None:
        """Close every exchange's HTTP session; a later fetch would open new ones."""
        exchanges, self._exchanges = self._exchanges, {}
        for exchange_id, exchange in exchanges.items():
            try:
                await exchange.close()
            except Exception:  # one failing close must not leak the other sessions
                _log.warning("closing ccxt exchange %s failed", exchange_id, exc_info=True)

    async def _fetch_symbol(self, request: FetchRequest) -> Observations | DataError:
        """Try each exchange in order; the first with data wins, else explain every failure."""
        symbol, market = request.asset.symbol, request.asset.ccxt
        if not market:
            return PermanentDataError(
                f"{symbol}: no ccxt market configured (set e.g. ccxt: BTC/USD for this asset)"
            )
        targets = _utc(request.targets)
        failures: list[tuple[str, DataError]] = []
        empty: Observations | None = None
        for position, exchange_id in enumerate(self._exchange_ids):
            try:
                found = await self._fetch_from(exchange_id, market, targets, symbol)
            except DataError as exc:
                failures.append((exchange_id, exc))
                remaining = self._exchange_ids[position + 1 :]
                _log.warning(
                    "%s (%s): %s failed, %s: %s",
                    symbol,
                    market,
                    exchange_id,
                    f"trying {remaining[0]}" if remaining else "no exchange left",
                    exc,
                )
                continue
            if not found.closes.empty or not len(targets):
                return await self._fill_gaps(found, market, targets, position)
            if empty is None:  # the next exchange may have a longer history
                empty = found
        if empty is not None:
            return empty
        reasons = "; ".join(f"{exchange_id}: {exc}" for exchange_id, exc in failures)
        temporary = any(isinstance(exc, TemporaryDataError) for _, exc in failures)
        error_type = TemporaryDataError if temporary else PermanentDataError
        return error_type(f"{symbol} ({market}): no exchange could serve it: {reasons}")

    async def _fill_gaps(
        self, found: Observations, market: str, targets: pd.DatetimeIndex, position: int
    ) -> Observations:
        """Ask later exchanges for instants the first one lacked (Kraken keeps 720 candles).

        The first exchange's prices are kept where it has them; a later exchange only fills
        holes, so one symbol's series mixes venues only where it must, and says so.
        """
        now = pd.Timestamp(self._clock())
        wanted = targets[~targets.isin(found.closes.index) & (targets <= now)]
        origins = [found.origin]
        closes = found.closes
        for exchange_id in self._exchange_ids[position + 1 :]:
            if not len(wanted):
                break
            try:
                extra = await self._fetch_from(exchange_id, market, wanted, found.symbol)
            except DataError as exc:
                _log.info("%s: %s could not fill gaps: %s", found.symbol, exchange_id, exc)
                continue
            if extra.closes.empty:
                continue
            closes = pd.concat([closes, extra.closes]).sort_index()
            origins.append(extra.origin.removeprefix("ccxt:"))
            wanted = wanted[~wanted.isin(extra.closes.index)]
        if len(origins) == 1:
            return found
        return Observations(found.symbol, closes, "+".join(origins))

    async def _fetch_from(
        self, exchange_id: str, market: str, targets: pd.DatetimeIndex, symbol: str
    ) -> Observations:
        """Page through one exchange's candles covering ``targets``; raises ``DataError``."""
        origin = f"ccxt:{exchange_id}"
        if not len(targets):
            return Observations(symbol, pd.Series(dtype="float64"), origin)
        daily = bool((targets == targets.normalize()).all())
        timeframe, step = ("1d", pd.Timedelta(days=1)) if daily else ("1h", pd.Timedelta(hours=1))
        step_ms = step // _MS
        now_ms = _ms(pd.Timestamp(self._clock()))
        since = _ms(targets[0] - step)
        last_open = min(_ms(targets[-1] - step), now_ms - step_ms)
        closes: dict[int, float] = {}
        try:
            exchange = self._exchange(exchange_id)
            limit = _page_limit(exchange)
            for _ in range(self._max_pages):
                if since > last_open:
                    break
                page = await exchange.fetch_ohlcv(market, timeframe, since, limit)
                if not page:
                    break
                for candle in page:  # [open ms, open, high, low, close, volume]
                    opened, close = int(candle[0]), candle[4]
                    if opened + step_ms <= now_ms:  # the candle has closed
                        closes[opened] = math.nan if close is None else float(close)
                next_since = max(int(candle[0]) for candle in page) + step_ms
                if next_since <= since:
                    break
                since = next_since
            else:
                if since <= last_open:
                    _log.warning(
                        "%s (%s) on %s: stopped after %d pages; later closes are missing",
                        symbol,
                        market,
                        exchange_id,
                        self._max_pages,
                    )
        except ccxt.BaseError as exc:
            _log.debug("%s (%s) on %s: ccxt error", symbol, market, exchange_id, exc_info=True)
            raise _translate(exc) from None
        except (TypeError, ValueError, LookupError) as exc:
            # ccxt's parsers fail like this on a payload they do not understand.
            raise TemporaryDataError(f"unexpected response ({type(exc).__name__})") from None
        # Same resolution as the targets, so results compare and join without surprises.
        index = (pd.to_datetime(list(closes), unit="ms", utc=True) + step).as_unit(targets.unit)
        series = pd.Series(list(closes.values()), index=index, dtype="float64")
        return Observations(symbol, restrict_to_targets(series, targets), origin)

    def _exchange(self, exchange_id: str) -> Any:
        """Return the one client per exchange id, created on first use and reused after."""
        exchange = self._exchanges.get(exchange_id)
        if exchange is None:
            exchange = self._factory(exchange_id)
            self._exchanges[exchange_id] = exchange
        return exchange


def _utc(targets: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Targets as a UTC index (naive instants are taken as UTC)."""
    targets = pd.DatetimeIndex(targets)
    return targets.tz_localize("UTC") if targets.tz is None else targets.tz_convert("UTC")


def _ms(instant: pd.Timestamp) -> int:
    """Milliseconds since the epoch, ccxt's timestamp unit."""
    return (instant - _EPOCH) // _MS


def _page_limit(exchange: Any) -> int:
    """Candles per request: what ccxt says the exchange allows, else 1000."""
    try:
        limit = exchange.features["spot"]["fetchOHLCV"]["limit"]
    except (AttributeError, KeyError, TypeError):
        return _DEFAULT_PAGE_LIMIT
    return limit if isinstance(limit, int) and limit > 0 else _DEFAULT_PAGE_LIMIT


def _translate(exc: ccxt.BaseError) -> DataError:
    """Map a ccxt error to ours: retryable failures are temporary, the rest permanent."""
    # OperationFailed is ccxt's "may succeed if retried" branch: NetworkError (timeouts,
    # rate limits, ExchangeNotAvailable incl. HTTP 451/5xx) and malformed responses.
    retryable = isinstance(exc, ccxt.OperationFailed)
    error_type = TemporaryDataError if retryable else PermanentDataError
    return error_type(_reason(exc))


def _reason(exc: BaseException) -> str:
    """Summarise safely in one line: ccxt's class plus HTTP status or message, no URLs."""
    name = type(exc).__name__
    text = _REQUEST_PREFIX.sub("", str(exc).strip())  # "kraken GET https://... "
    status = _HTTP_STATUS.match(text)
    if status:  # "451 Unavailable For Legal Reasons <html>...": keep status and phrase only
        return f"{name} ({_shorten(f'HTTP {status[1]} {status[2]}')})"
    detail = _shorten(text)
    return f"{name}: {detail}" if detail else name


def _shorten(text: str) -> str:
    """Collapse whitespace, hide URLs, and cut to a length that fits in a chat message."""
    text = " ".join(_URL.sub("<url>", text).split())
    return text if len(text) <= _REASON_CHARS else text[: _REASON_CHARS - 3] + "..."
