"""Broadcast throughput: one alert to thousands of subscribers under Telegram's flood limits.

The real delivery path end to end: a fresh store with N private chats subscribed
(``Subscribers.subscribe``), one alert recorded with ``Store.record_check`` (which fans
out one delivery row per chat), then ``Sender(...).drain()`` with a python-telegram-bot
``ExtBot`` talking to the loopback fake Bot API (``tests/fakes/telegram_api.py``) with flood
control on: 30 messages per rolling second overall, 1 per second per private chat, and a
429 ("retry after N") beyond that, the message not delivered.

Two rate limiters go through the same harness in the same run, each with a fresh store
and a fresh fake server:

* baseline: python-telegram-bot's stock ``telegram.ext.AIORateLimiter()`` (defaults);
* ours: ``bot.tg.ratelimit.PacedRateLimiter(per_second=28)``, as ``corrbot check`` uses.

Reported per limiter: messages per second (messages delivered / wall time from the
first to the last delivery) and that as a fraction of the 30 msg/s limit, 429s the
server answered, the busiest rolling second seen by the server, messages lost (chats
with no copy) and duplicated (chats with more than one), and the drain's wall time.
Targets for ours: >= 0.9 of the limit, zero 429s, zero lost, zero duplicates. Also
printed: when the 429s happened and the event loop's worst lateness (the fake, the bot
and the store share one loop and 2 cores here, so a stall bunches paced sends together).

``--inject-429 K`` makes the fake answer K messages 429 once a tenth of the broadcast is
out, and ``--stall-ms MS`` blocks the event loop once for MS ms at that point (both
limiters alike): how each limiter copes with one flood-control hiccup or one stall.

Run from the repository root (3,000 subscribers take about 2 x 110 s):

    PYTHONPATH=. python benchmarks/broadcast.py [--subscribers N] [--inject-429 K] [--stall-ms MS]
        [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from telegram.ext import AIORateLimiter, BaseRateLimiter, ExtBot

from bot.compose import build_evaluator, build_market_data
from bot.config import Config
from bot.core.clock import utc_now
from bot.core.models import Alert, AlertKind, Pair
from bot.core.service import CorrService
from bot.core.store import Store
from bot.present.alerts import alert_message
from bot.tg.delivery import Sender
from bot.tg.ratelimit import PacedRateLimiter
from bot.tg.settling import DrainReport
from tests.fakes.telegram_api import TOKEN, FakeTelegram

LIMIT = 30  # messages per second: Telegram's (and the fake's) overall limit
FIRST_CHAT = 200_000_001  # private chat ids look like user ids


@dataclass
class Outcome:
    name: str
    subscribers: int
    delivered: int
    rate: float  # messages per second, first to last delivery
    rejected_429: int
    busiest_second: int
    lost: int
    duplicates: int
    drain_seconds: float
    report: DrainReport
    first_429: float | None  # seconds after the first delivery
    last_429: float | None
    seconds_with_429: int  # distinct seconds (since the first delivery) that saw a 429
    max_loop_lag: float  # the event loop's worst lateness, seconds


async def _watch_loop(lags: list[float], stop: asyncio.Event) -> None:
    """How late the event loop wakes a 10 ms sleep: stalls bunch paced sends together."""
    while not stop.is_set():
        started = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - started - 0.01)


async def _inject(
    server: FakeTelegram, after: int, count: int, stall: float, stop: asyncio.Event
) -> None:
    """After ``after`` deliveries: answer the next ``count`` messages 429 (retry after 1 s)
    and block the event loop for ``stall`` seconds (a GC pause, a noisy neighbour)."""
    while not stop.is_set():
        if len(server.sent) >= after:
            server.burst_429(count)
            time.sleep(stall)  # noqa: ASYNC251 - blocking on purpose: the whole loop stalls
            return
        await asyncio.sleep(0.01)


def _busiest_second(times: list[float]) -> int:
    """The most deliveries the server saw within any rolling second."""
    most, start = 0, 0
    for end, stamp in enumerate(times):
        while stamp - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


def _service(folder: Path, name: str) -> tuple[Store, CorrService]:
    config = Config.model_validate(
        {
            "data": {"crypto_source": "synthetic", "equity_source": "synthetic"},
            "storage": {"path": str(folder / f"{name}.sqlite3")},
        }
    )
    store = Store.open(config.storage.path)
    market = build_market_data(config, store, utc_now, show_progress=False)
    return store, CorrService(store, market, build_evaluator(config), clock=utc_now)


def _queue_alert(service: CorrService, store: Store, subscribers: int) -> None:
    """Subscribe the chats, then record one alert: its deliveries are fanned out with it."""
    now = utc_now()
    for chat in range(FIRST_CHAT, FIRST_CHAT + subscribers):
        service.subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=now)
    alert = Alert(
        AlertKind.REGIME, Pair("BTC", "PSCT"), 30, date(2024, 6, 3), 0.62, 0.31, 2.1, "linked",
        "coupled",
    )  # fmt: skip
    message = alert_message(alert, None)
    recorded = store.record_check(
        [(alert, message.to_json())],
        window=30,
        states={},
        snapshot=None,
        now=now,
    )
    assert len(recorded) == 1


async def run_case(
    name: str,
    limiter: Callable[[], BaseRateLimiter],
    subscribers: int,
    folder: Path,
    within: float,
    inject: int = 0,
    stall: float = 0.0,
) -> Outcome:
    store, service = _service(folder, name)
    try:
        _queue_alert(service, store, subscribers)
        queued = service.outbox.counts().pending
        async with FakeTelegram(flood_control=True, global_rate=LIMIT) as server:
            bot = ExtBot(
                TOKEN,
                base_url=server.base_url,
                base_file_url=server.base_file_url,
                rate_limiter=limiter(),
            )
            lags: list[float] = []
            stop = asyncio.Event()
            helpers = [asyncio.create_task(_watch_loop(lags, stop))]
            if inject or stall:
                after = subscribers // 10
                helpers.append(asyncio.create_task(_inject(server, after, inject, stall, stop)))
            async with bot:
                sender = Sender(bot, service.store, service.now, max_attempts=8, concurrency=32)
                started = time.monotonic()
                try:
                    report = await asyncio.wait_for(sender.drain(within=within), within + 60)
                finally:
                    drain_seconds = time.monotonic() - started
                    stop.set()
                    await asyncio.gather(*helpers)
                await sender.stop(grace=5.0)
            sent = [m for m in server.sent if m.method == "sendMessage"]
            rejected = [r.time for r in server.requests if r.status == 429]
    finally:
        await service.close()
        store.close()
    times = sorted(m.time for m in sent)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    copies = Counter(m.chat_id for m in sent)
    wanted = range(FIRST_CHAT, FIRST_CHAT + subscribers)
    origin = times[0] if times else 0.0
    return Outcome(
        name=name,
        subscribers=queued,
        delivered=len(sent),
        rate=len(sent) / span,
        rejected_429=server.rejected_429,
        busiest_second=_busiest_second(times),
        lost=sum(1 for chat in wanted if copies[chat] == 0),
        duplicates=sum(1 for n in copies.values() if n > 1),
        drain_seconds=drain_seconds,
        report=report,
        first_429=rejected[0] - origin if rejected else None,
        last_429=rejected[-1] - origin if rejected else None,
        seconds_with_429=len({int(t - origin) for t in rejected}),
        max_loop_lag=max(lags, default=0.0),
    )


def _print(outcome: Outcome) -> None:
    r = outcome.report
    print(
        f"{outcome.name:<28} {outcome.rate:6.2f} msg/s = {outcome.rate / LIMIT:.3f} of {LIMIT}/s"
        f" | 429s {outcome.rejected_429:5d} | busiest second {outcome.busiest_second:3d}"
        f" | lost {outcome.lost} | duplicates {outcome.duplicates}"
        f" | delivered {outcome.delivered}/{outcome.subscribers} in {outcome.drain_seconds:.1f} s"
        f" (drain report: {r.sent} sent, {r.retried} retried, {r.failed} failed)"
    )
    when = (
        "no 429"
        if outcome.first_429 is None
        else f"429s from {outcome.first_429:.1f} s to {outcome.last_429:.1f} s after the first "
        f"delivery, in {outcome.seconds_with_429} distinct seconds"
    )
    print(f"{'':<28} {when}; worst event-loop lag {outcome.max_loop_lag * 1000:.0f} ms")


async def main_async(args: argparse.Namespace) -> None:
    within = max(300.0, 6.0 * args.subscribers / LIMIT)
    cases: list[tuple[str, Callable[[], BaseRateLimiter]]] = [
        ("baseline AIORateLimiter()", AIORateLimiter),
        ("ours PacedRateLimiter(28)", lambda: PacedRateLimiter(per_second=args.per_second)),
    ]
    if args.ours_first:
        cases.reverse()
    print(
        f"one alert to {args.subscribers} private chats; fake Bot API with flood control "
        f"({LIMIT} msg/s overall, 1 msg/s per chat); Sender concurrency 32; ideal "
        f"{args.subscribers / LIMIT:.0f} s at {LIMIT}/s"
    )
    if args.inject_429:
        print(
            f"injected: after {args.subscribers // 10} deliveries the fake answers the next "
            f"{args.inject_429} message(s) 429 (retry after 1 s), as a flood-control hiccup"
        )
    if args.stall_ms:
        print(
            f"injected: after {args.subscribers // 10} deliveries the event loop is blocked "
            f"once for {args.stall_ms:.0f} ms"
        )
    outcomes: dict[str, Outcome] = {}
    with tempfile.TemporaryDirectory(prefix="corrbot-broadcast-") as tmp:
        for index, (name, limiter) in enumerate(cases):
            outcomes[name] = await run_case(
                name,
                limiter,
                args.subscribers,
                Path(tmp),
                within,
                args.inject_429,
                args.stall_ms / 1000,
            )
            _print(outcomes[name])
            if index == 0:
                await asyncio.sleep(1.5)  # let the next fake start with an empty window
    base, ours = outcomes[cases[0][0]], outcomes[cases[1][0]]
    if args.ours_first:
        base, ours = ours, base
    print(
        f"ours / baseline: throughput {ours.rate / base.rate:.2f}x, "
        f"time to reach everyone {ours.drain_seconds / base.drain_seconds:.2f}x, "
        f"429s {ours.rejected_429} vs {base.rejected_429}"
    )
    if args.inject_429 or args.stall_ms:
        # Telegram's retry_after must be obeyed: K injected 429s cost K pauses of silence, so
        # the throughput target of normal operation does not apply. What matters is that a
        # hiccup does not cascade into more 429s, and nothing is lost or duplicated.
        extra = ours.rejected_429 - args.inject_429
        verdict = extra <= 0 and not ours.lost and not ours.duplicates
        print(
            f"with injected faults: 429s beyond the {args.inject_429} injected: {max(extra, 0)} "
            f"(baseline {max(base.rejected_429 - args.inject_429, 0)}); "
            f"target (no cascade, 0 lost, 0 duplicates): {'met' if verdict else 'NOT met'}"
        )
        return
    verdict = (
        ours.rate / LIMIT >= 0.9
        and ours.rejected_429 == 0
        and not ours.lost
        and not ours.duplicates
    )
    print(
        "target (ours >= 0.9 of the limit, 0 429s, 0 lost, 0 duplicates): "
        f"{'met' if verdict else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=3000, help="chats (default 3000)")
    parser.add_argument("--per-second", type=float, default=28.0, help="our limiter's pace")
    parser.add_argument(
        "--ours-first", action="store_true", help="run our limiter before the baseline"
    )
    parser.add_argument(
        "--inject-429",
        type=int,
        default=0,
        metavar="K",
        help="after a tenth of the deliveries, answer the next K messages 429 (default 0)",
    )
    parser.add_argument(
        "--stall-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="after a tenth of the deliveries, block the event loop once for MS ms (default 0)",
    )
    parser.add_argument("--quick", action="store_true", help="a short run: 300 subscribers")
    args = parser.parse_args()
    if args.quick:
        args.subscribers = min(args.subscribers, 300)
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    # The stock limiter logs every 429 with a traceback; the count is what matters here.
    logging.getLogger("telegram.ext").setLevel(logging.CRITICAL)
    logging.getLogger("bot").setLevel(logging.CRITICAL)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
