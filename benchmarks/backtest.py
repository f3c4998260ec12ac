"""Backtest speed: the one-pass engine against a naive per-day recomputation.

Ten years of a synthetic market, 5 cryptos x 6 equities x 2 windows (60 series), every
pair alerting. The baseline recomputes each window's correlation from scratch for every
day with numpy (what a notebook loop does), then runs the same alert engine. Both paths
are timed in the same run and the ratio printed, since absolute times on shared machines
are noisy. Also checks that both give the same correlations and the same alerts.

Run: python benchmarks/backtest.py [--repeat N]
"""

from __future__ import annotations

import argparse
import math
import time
from datetime import date

import numpy as np
import pandas as pd

from bot.core.analytics import Analytics
from bot.core.calendar import nyse
from bot.core.engine import AlertEngine, AlertSettings, PairState
from bot.core.evaluation import AnalysisSettings, Evaluator
from bot.core.models import Pair
from bot.core.sources.synthetic import SyntheticMarket
from bot.present.wording import SubscriberWording

CRYPTO = ["BTC", "ETH", "SOL", "XRP", "DOGE"]
EQUITIES = ["PSCT", "IWM", "QQQ", "IWO", "XSW", "XLK"]
WINDOWS = (30, 90)


def market_returns() -> pd.DataFrame:
    market = SyntheticMarket(
        CRYPTO, EQUITIES, nyse(), seed=7, start=date(2015, 1, 2), end=date(2024, 12, 31)
    )
    prices = market.at_sessions()
    return np.log(prices).diff().iloc[1:]


def one_pass(returns: pd.DataFrame, evaluator: Evaluator) -> tuple[Analytics, int]:
    evaluation = evaluator.evaluate(returns, {}, mode="backtest")
    return evaluation.analytics, len(evaluation.alerts)


def naive(
    returns: pd.DataFrame, engine: AlertEngine
) -> tuple[dict[tuple[str, str, int], np.ndarray], int]:
    values = {c: returns[c].to_numpy() for c in returns.columns}
    n = len(returns)
    corr: dict[tuple[str, str, int], np.ndarray] = {}
    for crypto in CRYPTO:
        for equity in EQUITIES:
            x_all, y_all = values[crypto], values[equity]
            for window in WINDOWS:
                out = np.full(n, np.nan)
                need = math.ceil(0.8 * window)
                for end in range(window - 1, n):
                    x = x_all[end - window + 1 : end + 1]
                    y = y_all[end - window + 1 : end + 1]
                    ok = ~(np.isnan(x) | np.isnan(y))
                    if ok.sum() >= need:
                        out[end] = np.corrcoef(x[ok], y[ok])[0, 1]
                corr[(crypto, equity, window)] = out
    alerts = 0
    for crypto in CRYPTO:
        for equity in EQUITIES:
            scan = engine.scan(Pair(crypto, equity), returns[crypto], returns[equity])
            _, found = engine.advance(scan, PairState(), mode="backtest")
            alerts += len(found)
    return corr, alerts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    returns = market_returns()
    engine = AlertEngine(AlertSettings())  # the product's defaults, as the config's
    evaluator = Evaluator(
        crypto=CRYPTO,
        equities=EQUITIES,
        alert_pairs=[Pair(c, e) for c in CRYPTO for e in EQUITIES],
        analysis=AnalysisSettings(windows=WINDOWS, headline_window=WINDOWS[0]),
        engine=engine,
        labels={},
        wording=SubscriberWording(),
    )
    size = f"{len(CRYPTO)} cryptos x {len(EQUITIES)} equities x {len(WINDOWS)} windows"
    print(f"{len(returns)} sessions, {size}, every pair alerting")
    fast_times, slow_times = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        analytics, fast_alerts = one_pass(returns, evaluator)
        fast_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        baseline, slow_alerts = naive(returns, engine)
        slow_times.append(time.perf_counter() - started)
    worst = max(
        float(np.nanmax(np.abs(analytics.corr[key].to_numpy() - baseline[key]))) for key in baseline
    )
    fast, slow = min(fast_times), min(slow_times)
    started = time.perf_counter()
    evaluator.analytics(returns)
    analytics_only = time.perf_counter() - started
    print(f"one-pass backtest (analytics, engine, messages): {fast:.3f} s, {fast_alerts} alerts")
    print(f"naive per-day recomputation + same engine:       {slow:.3f} s, {slow_alerts} alerts")
    print(f"speed-up: {slow / fast:.1f}x   max |corr difference|: {worst:.2e}")
    print(f"of which the one-pass analytics alone: {analytics_only:.3f} s (rest: engine, messages)")


if __name__ == "__main__":
    main()
