"""A loopback HTTP server that speaks enough of Kraken's and Bitstamp's public REST API.

The real ccxt classes (``ccxt.async_support.kraken`` / ``.bitstamp``) talk to it unchanged
except for ``urls['api']``, so the tests exercise ccxt's own request building, response
parsing and error mapping instead of a mock of them. Endpoints served (as ccxt calls them):

* kraken:   ``GET /kraken/0/public/Assets``, ``/kraken/0/public/AssetPairs``,
  ``/kraken/0/public/OHLC?pair=XXBTZUSD&interval=60&since=<s>`` (``since`` exclusive)
* bitstamp: ``GET /bitstamp/api/v2/markets/``,
  ``/bitstamp/api/v2/ohlc/btcusd/?step=3600&limit=N&start=<s>&end=<s>``

Prices follow a deterministic path: the close observed at instant ``t`` (a whole hour) is
:meth:`FakeExchanges.price`, for hourly and daily candles alike, so a daily candle's close
equals the close of the last hourly candle of that day, as on a real exchange. Candles
exist from ``history_start`` up to ``now``; the candle still open at ``now`` is served too
(real exchanges do) with a provisional close that differs from the final one.

Every page is cut to ``page_size`` candles so that pagination really happens. Faults are
injected per exchange (HTTP status, slow answers, delisted pairs) with :class:`Fault`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ccxt.async_support as ccxt_async
from aiohttp import web

from bot.core.errors import PermanentDataError

__all__ = ["EXCHANGES", "Candle", "FakeExchanges", "Fault", "SeenRequest"]

HOUR_S = 3600
DAY_S = 86400

#: Unified symbol -> (kraken pair id, kraken base asset, bitstamp market id, base price).
MARKETS: dict[str, tuple[str, str, str, int]] = {
    "BTC/USD": ("XXBTZUSD", "XXBT", "btcusd", 60_000),
    "ETH/USD": ("XETHZUSD", "XETH", "ethusd", 3_000),
}
#: Per-exchange price offset in cents, so a test can tell which exchange answered.
EXCHANGE_OFFSET_CENTS = {"kraken": 0, "bitstamp": 25}
EXCHANGES = tuple(EXCHANGE_OFFSET_CENTS)

#: One candle as the fake stores it: open time in seconds, then o/h/l/c/volume as strings.
Candle = tuple[int, str, str, str, str, str]

_GEO_BLOCK_BODY = (
    "<html><head><title>451 Unavailable For Legal Reasons</title></head>"
    "<body>This service is not available in your region.</body></html>"
)


@dataclass
class Fault:
    """How an exchange misbehaves for the requests it matches.

    ``endpoint`` is ``"markets"``, ``"ohlc"`` or ``""`` (every request); the first ``skip``
    matching requests are served normally (e.g. fail on the second page only).
    """

    status: int | None = None  # answer with this HTTP status
    delay: float = 0.0  # seconds to wait before answering (beyond the client timeout = timeout)
    endpoint: str = ""
    skip: int = 0
    body: str | None = None  # answer body; a realistic one per status when None

    def matches(self, endpoint: str) -> bool:
        return not self.endpoint or self.endpoint == endpoint


@dataclass(frozen=True)
class SeenRequest:
    """One request the server received, for asserting what ccxt really asked for."""

    exchange: str
    endpoint: str  # "markets", "ohlc" or "unknown"
    path: str
    query: dict[str, str]


@dataclass
class FakeExchanges:
    """Serves fake ``kraken`` and ``bitstamp`` on one loopback port; see the module doc."""

    now: datetime
    page_size: int = 100
    history_start: datetime = datetime(2023, 1, 1, tzinfo=UTC)
    #: per-exchange first candle, e.g. to model Kraken's short hourly history
    history_starts: dict[str, datetime] = field(default_factory=dict)
    timeout_ms: int = 300  # the client timeout the factory configures
    faults: dict[str, Fault] = field(default_factory=dict)
    delisted: dict[str, set[str]] = field(default_factory=dict)
    requests: list[SeenRequest] = field(default_factory=list)
    created: list[Any] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _closing: asyncio.Event = field(default_factory=asyncio.Event)

    # ---- life cycle -------------------------------------------------------------------

    async def start(self) -> FakeExchanges:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]
        return self

    async def close(self) -> None:
        """Stop listening; requests still sleeping in a ``delay`` fault end at once."""
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def factory(self, exchange_id: str) -> Any:
        """The ``exchange_factory`` seam: a real ccxt exchange whose API is this server."""
        if exchange_id not in EXCHANGES:
            raise PermanentDataError(f"unknown ccxt exchange id {exchange_id!r}")
        exchange = getattr(ccxt_async, exchange_id)(
            {"enableRateLimit": False, "timeout": self.timeout_ms}
        )
        root = (
            f"{self.base_url}/kraken"
            if exchange_id == "kraken"
            else f"{self.base_url}/bitstamp/api"
        )
        exchange.urls["api"] = {**exchange.urls["api"], "public": root, "private": root}
        exchange.timeout_on_exit = 0  # ccxt sleeps 250 ms in close() otherwise
        self.created.append(exchange)
        return exchange

    # ---- knobs for tests ----------------------------------------------------------------

    def inject(self, exchange: str, fault: Fault) -> None:
        """Make ``exchange`` misbehave as ``fault`` says (replaces an earlier fault)."""
        self.faults[exchange] = fault

    def geo_block(self, exchange: str) -> None:
        """Answer every request with HTTP 451, as a region-blocked exchange does."""
        self.inject(exchange, Fault(status=451, body=_GEO_BLOCK_BODY))

    def hang(self, exchange: str, seconds: float = 5.0) -> None:
        """Answer nothing for ``seconds`` (longer than the client timeout: a timeout)."""
        self.inject(exchange, Fault(delay=seconds))

    def delist(self, exchange: str, symbol: str) -> None:
        """Leave ``symbol`` out of the exchange's market list and reject it on OHLC."""
        self.delisted.setdefault(exchange, set()).add(symbol)

    def ohlc_requests(self, exchange: str) -> list[SeenRequest]:
        """The OHLC requests ``exchange`` received, in order."""
        return [r for r in self.requests if r.exchange == exchange and r.endpoint == "ohlc"]

    # ---- the price path --------------------------------------------------------------------

    def price(self, exchange: str, symbol: str, at: datetime | Any) -> float:
        """The close observed at whole-hour instant ``at`` (a datetime or pd.Timestamp)."""
        return _cents(exchange, symbol, int(at.timestamp()) // HOUR_S) / 100

    def candles(
        self, exchange: str, symbol: str, step: int, first_open: int, count: int
    ) -> list[Candle]:
        """Up to ``count`` candles ``(open_s, o, h, l, c, volume)`` from ``first_open`` on."""
        now_s = int(self.now.timestamp())
        start_s = int(self.history_starts.get(exchange, self.history_start).timestamp())
        first = max(first_open, start_s)
        first += (-first) % step  # align up to the timeframe
        rows: list[Candle] = []
        opened = first
        while opened <= now_s and len(rows) < count:
            close_hour = (opened + step) // HOUR_S
            open_c = _cents(exchange, symbol, opened // HOUR_S)
            close_c = _cents(exchange, symbol, close_hour)
            if opened + step > now_s:  # still open: provisional close
                close_c += 50
            high, low = max(open_c, close_c) + 100, min(open_c, close_c) - 100
            rows.append(
                (opened, _money(open_c), _money(high), _money(low), _money(close_c), "12.5")
            )
            opened += step
        return rows

    # ---- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        exchange = path.split("/")[1] if path.count("/") >= 1 else ""
        endpoint = _endpoint(path)
        self.requests.append(SeenRequest(exchange, endpoint, path, dict(request.query)))
        fault = self.faults.get(exchange)
        if fault is not None and fault.matches(endpoint):
            if fault.skip > 0:
                fault.skip -= 1
            else:
                return await self._misbehave(fault)
        if exchange == "kraken":
            return self._kraken(path, request.query)
        if exchange == "bitstamp":
            return self._bitstamp(path, request.query)
        return web.Response(status=404, text="Not Found")

    async def _misbehave(self, fault: Fault) -> web.StreamResponse:
        if fault.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay)
        status = fault.status or 200
        if fault.body is not None:
            body = fault.body
        elif status == 429:
            body = '{"message": "Too many requests"}'
        elif status >= 400:
            body = "<html><body>upstream unavailable</body></html>"
        else:
            body = ""
        content_type = "application/json" if body.startswith("{") else "text/html"
        return web.Response(status=status, text=body, content_type=content_type)

    def _listed(self, exchange: str) -> list[str]:
        gone = self.delisted.get(exchange, set())
        return [symbol for symbol in MARKETS if symbol not in gone]

    def _kraken(self, path: str, query: Any) -> web.Response:
        if path == "/kraken/0/public/Assets":
            assets = {"ZUSD": {"aclass": "currency", "altname": "USD", "decimals": 4}}
            for symbol in MARKETS:
                asset = MARKETS[symbol][1]
                assets[asset] = {"aclass": "currency", "altname": asset[1:], "decimals": 10}
            for entry in assets.values():
                entry.update({"display_decimals": 5, "status": "enabled"})
            return _json({"error": [], "result": assets})
        if path == "/kraken/0/public/AssetPairs":
            pairs = {}
            for symbol in self._listed("kraken"):
                pair, base, _, _ = MARKETS[symbol]
                pairs[pair] = {
                    "altname": base[1:] + "USD",
                    "wsname": base[1:] + "/USD",
                    "aclass_base": "currency",
                    "base": base,
                    "aclass_quote": "currency",
                    "quote": "ZUSD",
                    "lot": "unit",
                    "pair_decimals": 1,
                    "lot_decimals": 8,
                    "lot_multiplier": 1,
                    "leverage_buy": [],
                    "leverage_sell": [],
                    "fees": [[0, 0.26]],
                    "fees_maker": [[0, 0.16]],
                    "fee_volume_currency": "ZUSD",
                    "ordermin": "0.0001",
                    "costmin": "0.5",
                    "status": "online",
                }
            return _json({"error": [], "result": pairs})
        if path == "/kraken/0/public/OHLC":
            wanted = self._symbol_for("kraken", query.get("pair", ""))
            if wanted is None:
                return _json({"error": ["EQuery:Unknown asset pair"]})
            step = int(query.get("interval", "1")) * 60
            since = int(query.get("since", "0"))
            rows = self.candles("kraken", wanted, step, since + 1, self.page_size)
            candles = [[t, o, h, lo, c, c, v, 42] for t, o, h, lo, c, v in rows]
            last = candles[-1][0] if candles else since
            return _json({"error": [], "result": {query["pair"]: candles, "last": last}})
        return _json({"error": ["EGeneral:Unknown method"]}, status=404)

    def _bitstamp(self, path: str, query: Any) -> web.Response:
        if path == "/bitstamp/api/v2/markets/":
            markets = []
            for symbol in self._listed("bitstamp"):
                base = symbol.split("/")[0]
                markets.append(
                    {
                        "name": symbol,
                        "market_symbol": MARKETS[symbol][2],
                        "base_currency": base,
                        "base_decimals": 8,
                        "counter_currency": "USD",
                        "counter_decimals": 0,
                        "minimum_order_value": "10",
                        "trading": "Enabled",
                        "instant_order_counter_decimals": 2,
                        "instant_and_market_orders": "Enabled",
                        "description": f"{base} / U.S. dollar",
                        "market_type": "SPOT",
                    }
                )
            return _json(markets)
        parts = path.split("/")  # ['', 'bitstamp', 'api', 'v2', 'ohlc', '<pair>', '']
        if len(parts) == 7 and parts[4] == "ohlc":
            wanted = self._symbol_for("bitstamp", parts[5])
            if wanted is None:
                return web.Response(status=404, text="<html><body>Not Found</body></html>")
            step = int(query["step"])
            limit = min(int(query.get("limit", "1000")), 1000, self.page_size)
            start = int(query.get("start", "0"))
            end = int(query.get("end", str(2**40)))
            rows = [r for r in self.candles("bitstamp", wanted, step, start, limit) if r[0] <= end]
            ohlc = [
                {
                    "timestamp": str(t),
                    "open": o,
                    "high": h,
                    "low": lo,
                    "close": c,
                    "volume": v,
                }
                for t, o, h, lo, c, v in rows
            ]
            return _json({"data": {"pair": wanted, "ohlc": ohlc}})
        return web.Response(status=404, text="<html><body>Not Found</body></html>")

    def _symbol_for(self, exchange: str, market_id: str) -> str | None:
        column = 0 if exchange == "kraken" else 2
        for symbol in self._listed(exchange):
            if MARKETS[symbol][column] == market_id:
                return symbol
        return None


def _endpoint(path: str) -> str:
    if path.endswith(("/Assets", "/AssetPairs", "/markets/")):
        return "markets"
    if "/OHLC" in path or "/ohlc/" in path:
        return "ohlc"
    return "unknown"


def _cents(exchange: str, symbol: str, hour: int) -> int:
    base = MARKETS[symbol][3] * 100
    return base + (hour * 7919) % 100_003 + EXCHANGE_OFFSET_CENTS[exchange]


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(payload), content_type="application/json")
