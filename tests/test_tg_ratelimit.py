"""PacedRateLimiter on virtual time: the spacing it promises, after stalls and 429s too.

The limiter takes its clock and sleep as parameters, so these tests drive it with a
simulated clock: exact, instant, and free of the machine's timing noise.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import RetryAfter

import bot.tg  # noqa: F401 - sets PTB_TIMEDELTA before any RetryAfter is built
from bot.tg.ratelimit import PacedRateLimiter

PER_SECOND = 28.0
GAP = 1 / PER_SECOND
TOLERANCE = 0.02


class VirtualTime:
    """A clock that only moves when every task is asleep, to the earliest wake-up."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = 0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(seconds, 0.0), self._order, future))
        self._order += 1
        await future

    async def run(self, tasks: list[asyncio.Task[Any]], *, max_steps: int = 100_000) -> None:
        """Let the tasks run, advancing time whenever all of them wait, until all are done."""
        for _ in range(max_steps):
            for _ in range(20):  # runnable tasks reach their next sleep or lock
                await asyncio.sleep(0)
            if all(task.done() for task in tasks):
                return
            if self._sleepers:
                at, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, at)
                future.set_result(None)
        raise AssertionError("the simulation did not finish")


class Telegram:
    """Records when each message left the limiter; can stall the loop or answer 429."""

    def __init__(self, time: VirtualTime) -> None:
        self.time = time
        self.released: list[tuple[float, object]] = []
        self.stall_at: int | None = None  # after this many releases, the loop blocks...
        self.stall_seconds = 0.0
        self.refuse_at: set[int] = set()  # ...or these releases are answered 429

    def send(self, chat: object) -> Callable[[], Coroutine[Any, Any, bool]]:
        async def callback() -> bool:
            index = len(self.released)
            self.released.append((self.time.now, chat))
            if index == self.stall_at:
                self.time.now += self.stall_seconds  # a blocking call: time passes, no one runs
            if index in self.refuse_at:
                raise RetryAfter(retry_after=1)
            return True

        return callback


def _limiter(time: VirtualTime) -> PacedRateLimiter:
    return PacedRateLimiter(
        per_second=PER_SECOND, tolerance=TOLERANCE, clock=time.clock, sleep=time.sleep
    )


async def _broadcast(limiter: PacedRateLimiter, telegram: Telegram, chats: list[int]) -> None:
    async def one(chat: int) -> None:
        with contextlib.suppress(RetryAfter):  # the outbox reschedules; only timing matters
            await limiter.process_request(
                telegram.send(chat), (), {}, "sendMessage", {"chat_id": chat}, None
            )

    tasks = [asyncio.create_task(one(chat)) for chat in chats]
    await telegram.time.run(tasks)


def _busiest_second(times: list[float]) -> int:
    """The most releases inside any window of one second."""
    times = sorted(times)
    start, best = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_releases_keep_the_pace_and_use_it() -> None:
    """300 chats: never more than 29 in any second, and about 28 a second overall."""
    time = VirtualTime()
    telegram = Telegram(time)
    await _broadcast(_limiter(time), telegram, list(range(1, 301)))
    times = [moment for moment, _ in telegram.released]
    assert len(times) == 300
    assert _busiest_second(times) <= 29
    assert times[-1] - times[0] == pytest.approx(299 * GAP, rel=0.01)


async def test_a_stall_does_not_release_the_backlog_at_once() -> None:
    """After the loop is blocked for 0.5 s, sending resumes at the normal pace, not a burst."""
    time = VirtualTime()
    telegram = Telegram(time)
    telegram.stall_at, telegram.stall_seconds = 50, 0.5
    await _broadcast(_limiter(time), telegram, list(range(1, 201)))
    times = [moment for moment, _ in telegram.released]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= GAP - TOLERANCE - 1e-9
    assert _busiest_second(times) <= 29


async def test_a_429_silences_everyone_for_retry_after_then_paces_the_queue() -> None:
    """Nothing leaves within retry_after of a 429; the queued requests then leave one by one."""
    time = VirtualTime()
    telegram = Telegram(time)
    telegram.refuse_at = {40, 41}  # two already in flight are refused
    await _broadcast(_limiter(time), telegram, list(range(1, 201)))
    times = [moment for moment, _ in telegram.released]
    refused = times[41]
    after = times[42:]
    assert min(after) >= refused + 1.0
    gaps = [later - earlier for earlier, later in itertools.pairwise(after)]
    assert min(gaps) >= GAP - TOLERANCE - 1e-9


async def test_one_chat_gets_one_message_a_second() -> None:
    """Five messages to one private chat leave at least chat_interval apart."""
    time = VirtualTime()
    telegram = Telegram(time)
    await _broadcast(_limiter(time), telegram, [7] * 5)
    times = [moment for moment, _ in telegram.released]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 1.05 - 1e-9


async def test_requests_that_send_nothing_are_not_paced() -> None:
    """Requests like getUpdates pass at once, even during a 429 pause."""
    time = VirtualTime()
    limiter = _limiter(time)
    limiter.pause(30.0)

    async def get_updates() -> list[dict[str, Any]]:
        return []

    result = await limiter.process_request(get_updates, (), {}, "getUpdates", {}, None)
    assert result == []
    assert time.now == 0.0


def test_retry_after_is_a_timedelta_here() -> None:
    """bot.tg opts in to timedelta retry_after, which the limiter reads."""
    assert isinstance(RetryAfter(retry_after=2).retry_after, timedelta)
