"""The composition root: the one place that turns a configuration into working objects.

Every command of the CLI and the running Telegram bot get their store, market data,
service, schedule and metrics from :func:`build`, so a new setting is mapped to the core
once, here, and nothing else constructs the store or the service (a test in
``tests/test_architecture.py`` holds the line). The Telegram-specific parts (the
``Application``, the rate limiter, the sender) are built by the adapter from these
services, so commands that never talk to Telegram never import it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bot.config import Config
from bot.core.calendar import TradingCalendar, nyse
from bot.core.clock import Clock, utc_now
from bot.core.engine import AlertEngine, AlertSettings
from bot.core.evaluation import AnalysisSettings, Evaluator
from bot.core.market_data import MarketData, RefreshSettings
from bot.core.regimes import RegimeBands
from bot.core.schedule import DailySchedule
from bot.core.service import CorrService
from bot.core.sources.base import PriceSource
from bot.core.store import Store
from bot.metrics import Metrics
from bot.present.wording import SubscriberWording

__all__ = [
    "Services",
    "alert_settings",
    "build",
    "build_evaluator",
    "build_market_data",
    "daily_schedule",
    "open_store",
    "refresh_settings",
    "regime_bands",
]


@dataclass
class Services:
    """Everything a command or the bot needs, built from one configuration.

    Close it when done (``async with``): the market data sources hold network sessions,
    the store a file.
    """

    config: Config
    clock: Clock
    store: Store
    market: MarketData
    service: CorrService
    schedule: DailySchedule
    metrics: Metrics = field(default_factory=Metrics)

    async def close(self) -> None:
        """Close the sources' sessions, then the store."""
        try:
            await self.service.close()
        finally:
            self.store.close()

    async def __aenter__(self) -> Services:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()


def build(config: Config, clock: Clock = utc_now, *, show_progress: bool | None = None) -> Services:
    """Open the configured store and build the services on it.

    ``show_progress`` asks the market data for a progress bar on long fetches (``None``:
    when the terminal is interactive); the running bot passes ``False``.
    """
    store = open_store(config.storage.path)
    try:
        market = build_market_data(config, store, clock, show_progress=show_progress)
    except BaseException:
        store.close()
        raise
    return Services(
        config=config,
        clock=clock,
        store=store,
        market=market,
        service=CorrService(store, market, build_evaluator(config), clock=clock),
        schedule=daily_schedule(config),
    )


def open_store(path: Path | str) -> Store:
    """The store at ``path``, opened and migrated (``corrbot health`` needs nothing more)."""
    return Store.open(path)


def daily_schedule(config: Config) -> DailySchedule:
    """When the daily job runs: ``schedule.time`` in ``schedule.timezone``, on NYSE sessions."""
    return DailySchedule(dt.time(*config.schedule.hour_minute), config.schedule.timezone, nyse())


def build_sources(
    config: Config, calendar: TradingCalendar, clock: Clock
) -> tuple[PriceSource, PriceSource]:
    """The crypto and equity sources; one instance when both name the same kind."""
    crypto_kind = config.data.crypto_source
    equity_kind = config.data.equity_source
    crypto = _make_source(crypto_kind, config, calendar, clock)
    equity = (
        crypto if equity_kind == crypto_kind else _make_source(equity_kind, config, calendar, clock)
    )
    return crypto, equity


def _make_source(kind: str, config: Config, calendar: TradingCalendar, clock: Clock) -> PriceSource:
    # Imports are local so a process pays only for the libraries its sources use.
    if kind == "ccxt":
        from bot.core.sources.ccxt_source import CcxtSource

        return CcxtSource(config.data.exchanges, clock=clock)
    if kind == "yfinance":
        from bot.core.sources.yfinance_source import YFinanceSource

        return YFinanceSource(calendar, clock=clock)
    if kind == "csv":
        from bot.core.sources.csv_source import CsvSource

        assert config.data.csv_dir is not None  # guaranteed by config validation
        return CsvSource(config.data.csv_dir, calendar, clock=clock)
    if kind == "synthetic":
        from bot.core.sources.synthetic import SyntheticSource

        return SyntheticSource(
            config.universe.crypto_assets(),
            config.universe.equity_assets(),
            calendar,
            seed=config.data.synthetic_seed,
        )
    raise ValueError(f"unknown source kind {kind!r}")


def build_market_data(
    config: Config,
    store: Store,
    clock: Clock,
    *,
    show_progress: bool | None = None,
) -> MarketData:
    """The market data service for ``config`` over ``store``'s price cache."""
    calendar = nyse()
    crypto_source, equity_source = build_sources(config, calendar, clock)
    return MarketData(
        store.prices,
        crypto=config.universe.crypto_assets(),
        equities=config.universe.equity_assets(),
        crypto_source=crypto_source,
        equity_source=equity_source,
        calendar=calendar,
        clock=clock,
        settings=refresh_settings(config),
        show_progress=show_progress,
    )


def refresh_settings(config: Config) -> RefreshSettings:
    """How the price cache is refreshed, as ``data.*`` configures it."""
    data = config.data
    return RefreshSettings(
        history_sessions=data.history_sessions,
        overlap_sessions=data.refresh_overlap_sessions,
        late_retry_sessions=data.late_retry_sessions,
        stale_after=timedelta(minutes=data.stale_after_minutes),
        outlier_zscore=data.outlier_zscore,
        crypto_sampling=data.crypto_sampling,
    )


def alert_settings(config: Config) -> AlertSettings:
    """Every rule's settings as configured (the shift rule over the headline window)."""
    analysis, alerts = config.analysis, config.alerts
    return AlertSettings(
        shift=alerts.shift.settings(analysis.headline_window, analysis.min_coverage),
        regime=alerts.regime.settings(),
    )


def regime_bands(config: Config) -> RegimeBands:
    """The regime bands of ``alerts.regime``, as charts and messages shade and name them."""
    return config.alerts.regime.settings().bands


def build_evaluator(config: Config) -> Evaluator:
    """Analytics and the alert engine as configured, putting alerts in subscribers' words."""
    analysis = config.analysis
    universe = config.universe
    return Evaluator(
        crypto=[c.symbol for c in universe.crypto],
        equities=[e.symbol for e in universe.equities],
        alert_pairs=config.alert_pairs,
        analysis=AnalysisSettings(
            windows=tuple(analysis.windows),
            headline_window=analysis.headline_window,
            ewm_halflife=analysis.ewm_halflife,
            min_coverage=analysis.min_coverage,
        ),
        engine=AlertEngine(alert_settings(config)),
        labels=config.labels,
        wording=SubscriberWording(),
    )
