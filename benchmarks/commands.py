"""Command latency: from an update offered by the Bot API to the bot's reply arriving there.

The real bot (``run_bot``, as ``tests/fakes/bot_harness.running_bot`` starts it: synthetic
market, one admin, the loopback fake Bot API of ``tests/fakes/telegram_api.py``) runs in this
process and long-polls the fake. For each request the fake records when the update was
offered (``offered_at``), when a getUpdates answer first carried it (``fetched_at``) and
when the reply was delivered (``SentMessage.time``); all three are ``time.monotonic()``.
Latency = reply delivered - update offered. Reported as p50 / p95 / max for:

* ``/corr``: the snapshot reply (default 300 requests);
* ``/chart`` cached: the chart of the current snapshot already rendered (default 100);
* ``/chart`` cold: the first /chart after a new snapshot (default 10). Each one follows a
  new session: the bot's clock moves to the next NYSE session's evening and an admin's
  ``/runnow`` computes it (as the daily job would), which empties the chart cache;
* the very first /chart after start-up (cold plus matplotlib's first use) on its own.

Every request comes from a chat of its own, and requests are offered ``--gap`` seconds
apart (default 0.05 s, under the bot's 28 msg/s pace), so neither the 1 msg/s per-chat
spacing nor the global pacing of the bot's rate limiter delays a reply: what is measured
is the polling wake-up plus the handler plus the reply's request. A last section sends
``/corr`` back to back (no gap) to show what the global pacing adds under a burst.

The fake wakes a waiting long poll as soon as an update is offered; the "poll wake-up"
line (offered -> fetched) checks it: without the wake-up it would be spread over the
fake's 1 s poll cap. The fake, the bot and this driver share one event loop and 2 cores.
Target: /corr p95 under 50 ms.

Run from the repository root:

    PYTHONPATH=. python benchmarks/commands.py [--corr N] [--chart N] [--cold N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bot.core.calendar import nyse
from tests.fakes.bot_harness import ADMIN, RunningBot, running_bot, until
from tests.fakes.telegram_api import FakeTelegram

CORR_CHATS = 300_000_001
CHART_CHATS = 400_000_001
BURST_CHATS = 500_000_001


class Sample:
    """Latencies of one kind of request, in seconds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.total: list[float] = []
        self.wakeup: list[float] = []  # offered -> first fetched by getUpdates
        self.handling: list[float] = []  # fetched -> reply delivered

    def add(self, server: FakeTelegram, update_id: int, delivered: float) -> None:
        offered = server.offered_at[update_id]
        fetched = server.fetched_at.get(update_id, offered)
        self.total.append(delivered - offered)
        self.wakeup.append(fetched - offered)
        self.handling.append(delivered - fetched)

    def line(self) -> str:
        return f"{self.name:<38} n={len(self.total):4d}  " + _stats(self.total)


def _stats(values: list[float]) -> str:
    if not values:
        return "(none)"
    ms = np.array(values) * 1000
    p50, p95 = np.percentile(ms, [50, 95])
    return f"p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  max {ms.max():7.1f} ms"


async def _ask(bot: RunningBot, text: str, chat: int, sample: Sample, within: float) -> None:
    server = bot.server
    update_id = server.send_command(text, chat_id=chat, user_id=chat)
    [reply] = await server.wait_for_reply(chat, timeout=within)
    sample.add(server, update_id, reply.time)


async def _series(
    bot: RunningBot,
    text: str,
    chats: range,
    sample: Sample,
    *,
    gap: float,
    within: float,
) -> None:
    """Requests one after the other, each from its own chat, at least ``gap`` s apart."""
    for chat in chats:
        started = time.monotonic()
        await _ask(bot, text, chat, sample, within)
        rest = gap - (time.monotonic() - started)
        if rest > 0:
            await asyncio.sleep(rest)


def _as_of(bot: RunningBot) -> str:
    snapshot = bot.store.meta.snapshot()
    return "" if snapshot is None else snapshot.as_of.isoformat()


async def _next_session(bot: RunningBot) -> str:
    """Move the bot's clock to the next session's evening and let /runnow compute it."""
    as_of = datetime.fromisoformat(_as_of(bot)).date()
    closes = nyse().closes(first=as_of + timedelta(days=1))
    target = closes.iloc[0].to_pydatetime().astimezone(UTC) + timedelta(hours=3)
    bot.clock.advance(target - bot.clock())
    bot.server.send_command("/runnow", chat_id=ADMIN, user_id=ADMIN)
    await bot.server.wait_for_reply(ADMIN, count=2, timeout=120)
    expected = closes.index[0].date().isoformat()
    await until(lambda: _as_of(bot) == expected, 30, f"the snapshot of {expected}")
    return expected


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="corrbot-commands-") as tmp:
        started = time.monotonic()
        async with running_bot(Path(tmp), data={"history_sessions": args.history}) as bot:
            server = bot.server
            print(
                f"bot ready in {time.monotonic() - started:.1f} s (synthetic market, "
                f"{args.history} sessions, snapshot as of {_as_of(bot)}); requests "
                f"{args.gap * 1000:.0f} ms apart, one chat each"
            )
            polls_before, t0 = len(server.calls("getUpdates")), time.monotonic()

            warm = Sample("warm-up /corr")
            await _series(bot, "/corr", range(1, 6), warm, gap=args.gap, within=10)
            corr = Sample("/corr")
            chats = range(CORR_CHATS, CORR_CHATS + args.corr)
            await _series(bot, "/corr", chats, corr, gap=args.gap, within=10)

            first_chart = Sample("/chart, first after start-up")
            await _ask(bot, "/chart", CHART_CHATS - 1, first_chart, 60)
            await asyncio.sleep(args.gap)
            cached = Sample("/chart cached")
            chats = range(CHART_CHATS, CHART_CHATS + args.chart)
            await _series(bot, "/chart", chats, cached, gap=args.gap, within=30)

            cold = Sample("/chart cold (first after new session)")
            sessions = []
            for index in range(args.cold):
                sessions.append(await _next_session(bot))
                await asyncio.sleep(1.2)  # the admin's replies are paced; let them clear
                chat = CHART_CHATS + args.chart + index
                await _ask(bot, "/chart", chat, cold, 60)
            polls = len(server.calls("getUpdates")) - polls_before
            polled_for = time.monotonic() - t0

            burst = Sample("/corr back to back, no gap")
            chats = range(BURST_CHATS, BURST_CHATS + args.burst)
            await _series(bot, "/corr", chats, burst, gap=0.0, within=10)

        print(warm.line())
        print(corr.line())
        print(first_chart.line())
        print(cached.line())
        print(cold.line() + (f"  (sessions {sessions[0]} .. {sessions[-1]})" if sessions else ""))
        if cold.total:
            each = ", ".join(f"{value * 1000:.0f}" for value in cold.total)
            print(f"{'':<38} each cold /chart, in order (ms): {each}")
        print(burst.line() + "  (replies queue at the 28 msg/s pace)")
        paced = corr.wakeup + cached.wakeup + cold.wakeup
        print(f"poll wake-up, offered -> fetched          n={len(paced):4d}  " + _stats(paced))
        print(
            f"/corr handling, fetched -> delivered     n={len(corr.handling):4d}  "
            + _stats(corr.handling)
        )
        print(
            f"getUpdates calls while measuring: {polls} in {polled_for:.0f} s "
            f"({polls / polled_for:.1f}/s; one answer per poll or per second of idle)"
        )
        if corr.total:
            p95 = float(np.percentile(corr.total, 95)) * 1000
            print(f"target /corr p95 < 50 ms: {p95:.1f} ms, {'met' if p95 < 50 else 'NOT met'}")
        if cached.total and cold.total:
            ratio = float(np.median(cold.total) / np.median(cached.total))
            print(f"/chart cold / cached (p50): {ratio:.1f}x")
        if corr.total and burst.total:
            ratio = float(np.median(burst.total) / np.median(corr.total))
            print(f"/corr back to back / spaced (p50): {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corr", type=int, default=300, help="/corr requests (default 300)")
    parser.add_argument("--chart", type=int, default=100, help="cached /chart requests")
    parser.add_argument("--cold", type=int, default=10, help="cold /chart requests")
    parser.add_argument("--burst", type=int, default=100, help="back-to-back /corr requests")
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between requests")
    parser.add_argument("--history", type=int, default=1000, help="sessions of history")
    parser.add_argument("--quick", action="store_true", help="a short run")
    args = parser.parse_args()
    if args.quick:
        args.corr, args.chart, args.cold, args.burst = 50, 10, 2, 30
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
