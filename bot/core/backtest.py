"""Backtests: history through the live engine, written out as CSV and summarized per year."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from bot.core.evaluation import Evaluation, Evaluator
from bot.core.message import Message
from bot.core.models import AlertKind

__all__ = ["ALERT_COLUMNS", "BacktestResult", "run_backtest"]

ALERT_COLUMNS = (
    "date",
    "kind",
    "crypto",
    "equity",
    "window",
    "corr",
    "prev_corr",
    "z",
    "regime_from",
    "regime_to",
    "message",
    "direction",
    "lower",
    "upper",
    "notify",
)


@dataclass(frozen=True)
class BacktestResult:
    """What a backtest found between ``start`` and ``end``."""

    evaluation: Evaluation
    start: date
    end: date
    headline_window: int

    def _in_range(self, frame: pd.DataFrame) -> pd.DataFrame:
        index = pd.DatetimeIndex(frame.index)
        return frame[(index >= pd.Timestamp(self.start)) & (index <= pd.Timestamp(self.end))]

    def correlations(self) -> pd.DataFrame:
        """Long format: ``date,crypto,equity,window,corr`` for every pair and window."""
        wide = self._in_range(self.evaluation.analytics.corr)
        stacked = pd.Series(wide.stack([0, 1, 2], future_stack=True)).dropna()
        long = stacked.reset_index()
        long.columns = pd.Index(["date", "crypto", "equity", "window", "corr"])
        long["date"] = pd.DatetimeIndex(long["date"]).strftime("%Y-%m-%d")
        return long.sort_values(["date", "crypto", "equity", "window"], kind="stable")

    def alerts(self, text: Callable[[Message], str]) -> pd.DataFrame:
        """One row per alert, with the message a subscriber would have read, as ``text`` puts it."""
        rows = [
            (
                alert.session.isoformat(),
                alert.kind.value,
                alert.pair.crypto,
                alert.pair.equity,
                alert.window,
                round(alert.corr, 6),
                round(alert.prev_corr, 6),
                round(alert.z, 4),
                alert.regime_from,
                alert.regime_to,
                text(message),
                alert.direction,
                _rounded(alert.lower),
                _rounded(alert.upper),
                "true" if alert.notify else "false",
            )
            for alert, message in self.evaluation.alerts
        ]
        return pd.DataFrame(rows, columns=list(ALERT_COLUMNS))

    def per_year(self) -> pd.DataFrame:
        """Mean headline-window correlation per pair, pushed alerts by kind and follow-ups.

        ``alerts`` counts the messages that notify (an episode's first); ``follow-ups`` the
        silent replies inside episodes.
        """
        analytics = self.evaluation.analytics
        corr = self._in_range(
            pd.DataFrame(analytics.corr.xs(self.headline_window, axis=1, level=2))
        )
        means = corr.groupby(pd.DatetimeIndex(corr.index).year).mean()
        means.columns = pd.Index([f"{pair[0]}~{pair[1]}" for pair in means.columns])
        pushed = [a for a, _ in self.evaluation.alerts if a.notify]
        tally = Counter((a.session.year, a.kind.value) for a in pushed)
        kinds = (AlertKind.SPIKE, AlertKind.DECOUPLING)
        counts = pd.DataFrame(
            [[tally[(year, kind.value)] for kind in kinds] for year in means.index],
            index=means.index,
            columns=[kind.value for kind in kinds],
        )
        silent = Counter(a.session.year for a, _ in self.evaluation.alerts if not a.notify)
        table = pd.concat([means.round(2), counts], axis=1)
        table["alerts"] = counts.sum(axis=1)
        table["follow-ups"] = [silent[year] for year in means.index]
        # Years without a single correlation or alert (before the data starts) say nothing.
        table = table[means.notna().any(axis=1) | (table["alerts"] > 0)]
        table.index.name = "year"
        return table

    def write(self, folder: Path, *, text: Callable[[Message], str]) -> dict[str, Path]:
        """Write ``correlations.csv`` and ``alerts.csv`` (messages as ``text`` puts them)."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"correlations": folder / "correlations.csv", "alerts": folder / "alerts.csv"}
        self.correlations().to_csv(paths["correlations"], index=False, float_format="%.6f")
        self.alerts(text).to_csv(paths["alerts"], index=False)
        return paths


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 6)


def run_backtest(
    evaluator: Evaluator,
    returns: pd.DataFrame,
    *,
    start: date | None = None,
    end: date | None = None,
) -> BacktestResult:
    """Run the alert engine over history exactly as the live bot would have, day by day.

    The engine warms up silently before ``start`` so that the first day of the backtest
    starts from the state a bot running since then would have had.
    """
    with_data = pd.DatetimeIndex(returns.index[returns.notna().any(axis=1)])
    if with_data.empty:
        raise ValueError("no returns to backtest: the store holds no usable prices")
    returns = returns.loc[with_data[0] : with_data[-1]]  # no data, nothing to say
    sessions = pd.DatetimeIndex(returns.index)
    first = start or sessions[0].date()
    last = end or sessions[-1].date()
    if first > last:
        raise ValueError(f"start {first.isoformat()} is after end {last.isoformat()}")
    evaluation = evaluator.evaluate(returns, {}, mode="backtest", start=start, end=end)
    return BacktestResult(evaluation, first, last, evaluator.analysis.headline_window)
