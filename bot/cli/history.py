"""History through the live engine: what ``backtest``, ``demo`` and ``calibrate`` share.

Each refreshes the price cache first (a backtest from 2018 fetches what the live bot never
needed), then reads the same panel of returns the daily job reads, sampled the same way,
so what a backtest shows is what the live bot would have sent.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path

import pandas as pd

from bot.compose import build, build_evaluator, regime_bands
from bot.config import Config
from bot.core.backtest import BacktestResult, run_backtest
from bot.core.calendar import nyse
from bot.core.clock import utc_now
from bot.core.panel import Panel
from bot.core.sampling import Sampling
from bot.present.plain import render_text
from bot.present.reports import sampling_text

__all__ = [
    "DEMO_HISTORY",
    "History",
    "load_history",
    "replay",
    "replaying_files",
    "sampled",
    "with_history_from",
    "write_outputs",
]

MAX_HISTORY = 10_000  # sessions; the calendar starts in 2000
DEMO_HISTORY = 4_000  # sessions: the whole synthetic history (2015 on) or the CSV files

History = tuple[Panel, dict[str, Sampling], bool]


async def load_history(config: Config) -> History:
    """Refresh the price cache, then the panel of returns and how each asset was sampled.

    The flag says whether every symbol was refreshed; one that was not is warned about on
    stderr and the history goes on with what the cache holds.
    """
    async with build(config) as services:
        report = await services.market.refresh()
        for symbol, error in report.errors.items():
            print(f"corrbot: warning: {symbol} was not refreshed: {error}", file=sys.stderr)
        return services.market.panel(), services.market.sampling, report.ok


async def replay(
    config: Config, start: date | None, end: date | None
) -> tuple[BacktestResult, bool, str]:
    """The backtest of ``config`` from ``start`` to ``end``, with how the crypto was sampled."""
    panel, sampling, ok = await load_history(config)
    result = await asyncio.to_thread(
        run_backtest, build_evaluator(config), panel.returns, start=start, end=end
    )
    return result, ok, sampled(config, sampling)


def sampled(config: Config, sampling: dict[str, Sampling]) -> str:
    """How the configured crypto was sampled, in words."""
    crypto = [c.symbol for c in config.universe.crypto]
    return sampling_text(crypto, sampling, lead=config.alerts.shift.lead)


def replaying_files(config: Config, csv_dir: Path, store: Path) -> Config:
    """``config`` reading ``<ticker>.csv`` files from ``csv_dir`` through a store at ``store``."""
    data = {
        "crypto_source": "csv",
        "equity_source": "csv",
        "csv_dir": csv_dir.resolve(),
        "history_sessions": max(config.data.history_sessions, DEMO_HISTORY),
    }
    return config.model_copy(
        update={
            "data": config.data.model_copy(update=data),
            "storage": config.storage.model_copy(update={"path": store}),
        }
    )


def with_history_from(config: Config, start: date | None) -> Config:
    """Keep enough sessions for a backtest from ``start``, warm-up windows included."""
    if start is None:
        return config
    calendar = nyse()
    warmup = 2 * max(config.analysis.windows) + 5
    last = calendar.last_closed_session(utc_now()) or start
    needed = calendar.sessions_after(start, last) + 1 + warmup
    history = min(max(needed, config.data.history_sessions), MAX_HISTORY)
    return config.model_copy(
        update={"data": config.data.model_copy(update={"history_sessions": history})}
    )


def write_outputs(config: Config, result: BacktestResult, folder: Path) -> None:
    """``correlations.csv``, ``alerts.csv``, ``chart.png`` and ``comparison.png`` in ``folder``."""
    from bot.present.charts import comparison_chart, correlation_chart

    result.write(folder, text=render_text)
    evaluation = result.evaluation
    headline = config.alert_pairs[0]
    labels = config.labels
    alerts = [alert for alert, _ in evaluation.alerts]
    valid = pd.DatetimeIndex(
        evaluation.analytics.series(headline, config.analysis.headline_window).dropna().index
    )
    since = max(result.start, valid[0].date()) if len(valid) else result.start
    (folder / "chart.png").write_bytes(
        correlation_chart(
            evaluation.analytics,
            headline,
            bands=regime_bands(config),
            alerts=alerts,
            since=since,
            labels=labels,
        )
    )
    (folder / "comparison.png").write_bytes(
        comparison_chart(
            evaluation.analytics,
            headline.crypto,
            window=config.analysis.headline_window,
            since=since,
            labels=labels,
        )
    )
