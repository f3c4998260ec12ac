"""Calibration speed: null histories through the engine in chunks, against one at a time.

Ten years of a synthetic BTC~PSCT history (the default pair, the default window), 1,000 null
paths of each of the three nulls through ``corrbot calibrate``'s vectorized pass, against a
per-path loop through the engine's one-history API (``AlertEngine.scan`` + ``advance``, what
a backtest does), on the same null paths. Both are timed in the same run and the ratio
printed, since absolute times on shared machines are noisy; the loop is timed on
``--loop-paths`` paths and scaled up, and both must count the same alerts on those paths.

Run: python benchmarks/calibrate.py [--paths N] [--loop-paths M] [--repeat R]
"""

from __future__ import annotations

import argparse
import time
from datetime import date

import numpy as np
import pandas as pd

from bot.core.calendar import nyse
from bot.core.calibration import NULLS, Period, calibrate, null_histories, observed_correlation
from bot.core.engine import AlertEngine, AlertSettings, PairState
from bot.core.models import Pair
from bot.core.sources.synthetic import SyntheticMarket

PAIR = Pair("BTC", "PSCT")
START, END = date(2015, 1, 2), date(2024, 12, 31)


def history() -> pd.DataFrame:
    market = SyntheticMarket(["BTC"], ["PSCT"], nyse(), seed=7, start=START, end=END)
    prices = market.at_sessions()
    return np.log(prices).diff().iloc[1:]


def vectorized(engine: AlertEngine, returns: pd.DataFrame, paths: int) -> float:
    result = calibrate(engine, returns, [PAIR], [Period("all", START, END)], paths=paths, seed=1)
    pushed = [row for row in result.rows if row.rule == "shift" and row.measure == "pushed"]
    return sum(row.null_mean for row in pushed)


def per_path(engine: AlertEngine, returns: pd.DataFrame, paths: int) -> int:
    """The same nulls, one history at a time through the backtest's API."""
    crypto = returns[PAIR.crypto].to_numpy()
    equity = returns[PAIR.equity].to_numpy()
    rho = observed_correlation(crypto, equity, engine)
    rng = np.random.default_rng(1)
    pushed = 0
    for null in NULLS:
        c, e = null_histories(null, crypto, equity, paths=paths, rng=rng, correlation=rho)
        for path in range(paths):
            scan = engine.scan(
                PAIR,
                pd.Series(c[path], index=returns.index),
                pd.Series(e[path], index=returns.index),
            )
            _, alerts = engine.advance(scan, PairState(), mode="backtest")
            pushed += sum(alert.notify for alert in alerts)
    return pushed


def same_alerts(engine: AlertEngine, returns: pd.DataFrame, paths: int) -> bool:
    """Both ways send the same alerts on the same null paths."""
    crypto = returns[PAIR.crypto].to_numpy()
    equity = returns[PAIR.equity].to_numpy()
    rng = np.random.default_rng(3)
    c, e = null_histories("t4", crypto, equity, paths=paths, rng=rng, correlation=0.2)
    sessions = tuple(pd.DatetimeIndex(returns.index).date)
    together = engine.scans(PAIR, sessions, c, e)
    for path, scan in enumerate(together):
        alone = engine.scan(
            PAIR, pd.Series(c[path], index=returns.index), pd.Series(e[path], index=returns.index)
        )
        _, a = engine.advance(scan, PairState(), mode="backtest")
        _, b = engine.advance(alone, PairState(), mode="backtest")
        if [x.key for x in a] != [x.key for x in b]:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--loop-paths", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    returns = history()
    engine = AlertEngine(AlertSettings())  # the product's defaults
    years = len(returns) / 252
    print(f"{len(returns)} sessions ({years:.1f} years), {PAIR}, nulls: {', '.join(NULLS)}")
    fast_times, slow_times = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        vectorized(engine, returns, args.paths)
        fast_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        per_path(engine, returns, args.loop_paths)
        slow_times.append((time.perf_counter() - started) * args.paths / args.loop_paths)
    fast, slow = min(fast_times), min(slow_times)
    paths = f"{args.paths} paths x {len(NULLS)} nulls"
    print(f"vectorized calibration, {paths}:               {fast:.2f} s")
    print(f"per-path loop (scan + advance), scaled to {paths}: {slow:.2f} s")
    same = same_alerts(engine, returns, 20)
    print(f"speed-up: {slow / fast:.1f}x   same alerts path by path: {same}")


if __name__ == "__main__":
    main()
