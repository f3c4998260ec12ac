"""The daily job on a warm cache: from the daily tick to the outbox filled.

``CorrService.check_now()`` is what the daily tick runs (``bot.tg.jobs.run_daily_job``):
refresh the price cache, evaluate every pair, then record the alerts, their deliveries,
the engine states, the snapshot and the day's digest in one transaction. When it returns,
the outbox is filled and the sender is woken.

Setup per universe: a fresh store, a synthetic market, 3,000 subscribed private chats,
all of them with the daily digest on (so every run fans out 3,000 digest deliveries,
plus one per chat for each alert). The clock is fixed at 3 h after an NYSE close. A first
``check_now`` fills the cache (timed as "first run, empty cache"); then the clock moves
one session at a time and ``check_now`` is timed again, each run having one new session's
work: the incremental refresh, the full evaluation over the kept history, the fan-out.

Two universes, both with 1,000 sessions of history and windows 30 and 90:

* default: 2 cryptos x 3 equities, the headline pair BTC~PSCT alerting (the defaults);
* large: 20 cryptos x 10 equities (synthetic symbols), ``alerts.pairs`` = all 200 pairs.

Printed: each run's time, the median warm run with its breakdown (refresh, panel build,
evaluation, recording; wrapped around the service's own objects), the outbox rows and
alerts per run, and the ratio large / default of the median warm runs.

Run from the repository root:

    PYTHONPATH=. python benchmarks/daily_job.py [--repeat N] [--subscribers N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.compose import build_evaluator, build_market_data
from bot.config import Config
from bot.core.calendar import nyse
from bot.core.service import CorrService
from bot.core.store import Store

FIRST_CHAT = 800_000_001
WARM_UP_AS_OF = date(2024, 11, 1)  # the cache is filled as of this session; then one by one


class FixedClock:
    """A clock that stays where it is put."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Stopwatch:
    """Time spent in wrapped methods, per label, since the last reset."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, obj: Any, name: str, label: str) -> None:
        method = getattr(obj, name)
        if inspect.iscoroutinefunction(method):

            @functools.wraps(method)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await method(*args, **kwargs)
                finally:
                    self.seconds[label] += time.perf_counter() - started

            setattr(obj, name, timed_async)
            return

        @functools.wraps(method)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started

        setattr(obj, name, timed)


def _universe(name: str) -> dict[str, Any]:
    if name == "default":
        return {}
    crypto = [{"symbol": "BTC"}, {"symbol": "ETH"}] + [
        {"symbol": f"CR{i:02d}"} for i in range(3, 21)
    ]
    equities = [{"symbol": "PSCT"}, {"symbol": "IWM"}, {"symbol": "QQQ"}] + [
        {"symbol": f"EQ{i:02d}"} for i in range(4, 11)
    ]
    pairs = [f"{c['symbol']}~{e['symbol']}" for c in crypto for e in equities]
    return {"universe": {"crypto": crypto, "equities": equities}, "alerts": {"pairs": pairs}}


def _config(folder: Path, name: str, history: int) -> Config:
    raw: dict[str, Any] = {
        "data": {
            "crypto_source": "synthetic",
            "equity_source": "synthetic",
            "history_sessions": history,
        },
        "storage": {"path": str(folder / f"{name}.sqlite3")},
        **_universe(name),
    }
    return Config.model_validate(raw)


def _subscribe(service: CorrService, store: Store, count: int, now: datetime) -> None:
    for chat in range(FIRST_CHAT, FIRST_CHAT + count):
        service.subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=now)
    with store.transaction() as conn:  # setup only: every chat wants the daily digest
        conn.execute("UPDATE chats SET digest = 1")


def _deliveries(store: Store) -> int:
    return int(str(store.query("SELECT COUNT(*) FROM deliveries")[0][0]))


async def run_universe(name: str, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    config = _config(folder, name, args.history)
    calendar = nyse()
    closes = calendar.closes(first=WARM_UP_AS_OF).iloc[: args.repeat + 1]
    clock = FixedClock(closes.iloc[0].to_pydatetime() + timedelta(hours=3))
    store = Store.open(config.storage.path)
    market = build_market_data(config, store, clock, show_progress=False)
    evaluator = build_evaluator(config)
    service = CorrService(store, market, evaluator, clock=clock)
    watch = Stopwatch()
    watch.wrap(market, "refresh", "refresh")
    watch.wrap(market, "panel", "panel")
    watch.wrap(evaluator, "evaluate", "evaluate")
    watch.wrap(store, "record_check", "record")
    try:
        _subscribe(service, store, args.subscribers, clock())
        started = time.perf_counter()
        first = await service.check_now()
        cold = time.perf_counter() - started
        runs = []
        for close in closes.iloc[1:]:
            clock.now = close.to_pydatetime() + timedelta(hours=3)
            watch.seconds.clear()
            before = _deliveries(store)
            started = time.perf_counter()
            result = await service.check_now()
            total = time.perf_counter() - started
            parts = dict(watch.seconds)
            runs.append(
                {
                    "total": total,
                    "parts": parts,
                    "rows": _deliveries(store) - before,
                    "alerts": len(result.recorded),
                    "as_of": None if result.snapshot is None else result.snapshot.as_of,
                    "ok": result.ok,
                }
            )
    finally:
        await service.close()
        store.close()
    crypto, equities = len(config.universe.crypto), len(config.universe.equities)
    return {
        "name": name,
        "shape": f"{crypto} cryptos x {equities} equities ({crypto * equities} pairs), "
        f"{len(config.alert_pairs)} alerting",
        "cold": cold,
        "first_as_of": None if first.snapshot is None else first.snapshot.as_of,
        "runs": runs,
    }


def _report(outcome: dict[str, Any], history: int, subscribers: int) -> float:
    runs = outcome["runs"]
    print(
        f"{outcome['name']}: {outcome['shape']}, {history} sessions, windows 30/90, "
        f"{subscribers} subscribers with the digest"
    )
    print(f"  first run, empty cache (as of {outcome['first_as_of']}): {outcome['cold']:.3f} s")
    for run in runs:
        parts = run["parts"]
        other = run["total"] - sum(parts.values())
        breakdown = ", ".join(
            f"{label} {parts.get(label, 0.0):.3f}"
            for label in ("refresh", "panel", "evaluate", "record")
        )
        print(
            f"  warm run as of {run['as_of']}: {run['total']:.3f} s ({breakdown}, "
            f"other {other:.3f}); outbox +{run['rows']} rows, {run['alerts']} alert(s), "
            f"ok={run['ok']}"
        )
    median = statistics.median(run["total"] for run in runs)
    print(
        f"  median warm run: {median:.3f} s  "
        f"(first run / median warm: {outcome['cold'] / median:.1f}x)"
    )
    return median


async def main_async(args: argparse.Namespace) -> None:
    medians = {}
    with tempfile.TemporaryDirectory(prefix="corrbot-daily-") as tmp:
        for name in ("default", "large"):
            outcome = await run_universe(name, args, Path(tmp))
            medians[name] = _report(outcome, args.history, args.subscribers)
    print(
        f"daily tick -> outbox filled, median warm run: default {medians['default']:.3f} s, "
        f"large {medians['large']:.3f} s, "
        f"large / default {medians['large'] / medians['default']:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="warm runs, one session each")
    parser.add_argument("--subscribers", type=int, default=3000, help="subscribed chats")
    parser.add_argument("--history", type=int, default=1000, help="sessions of history")
    parser.add_argument("--quick", action="store_true", help="a short run: 2 warm runs")
    args = parser.parse_args()
    if args.quick:
        args.repeat = min(args.repeat, 2)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
