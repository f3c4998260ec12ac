"""Connects configuration to concrete classes; the only place that knows them all."""

from __future__ import annotations

from datetime import timedelta

from bot.config import Config
from bot.core.calendar import TradingCalendar, nyse
from bot.core.clock import Clock
from bot.core.engine import AlertEngine, AlertSettings
from bot.core.evaluation import AnalysisSettings, Evaluator
from bot.core.market_data import MarketData, RefreshSettings
from bot.core.messages import SubscriberWording
from bot.core.sources.base import PriceSource
from bot.core.store import Store

__all__ = [
    "build_alert_settings",
    "build_evaluator",
    "build_market_data",
    "build_sources",
    "refresh_settings",
]


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
    """The market data service for ``config`` over ``store``."""
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


def build_alert_settings(config: Config) -> AlertSettings:
    """Every rule's settings as configured (the shift rule over the headline window)."""
    analysis, alerts = config.analysis, config.alerts
    return AlertSettings(
        shift=alerts.shift.settings(analysis.headline_window, analysis.min_coverage),
        regime=alerts.regime.settings(),
    )


def build_evaluator(config: Config) -> Evaluator:
    """Analytics and the alert engine as configured."""
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
        engine=AlertEngine(build_alert_settings(config)),
        labels=config.labels,
        wording=SubscriberWording(),
    )
