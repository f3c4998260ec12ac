"""Pacing every message the bot sends so Telegram's flood limits are never reached.

Telegram allows about 30 messages a second overall, one a second to the same chat and 20 a
minute to the same group, and answers 429 ("retry after N") beyond that. python-telegram-bot's
stock ``AIORateLimiter`` reacts to bursts; this limiter spaces requests instead, so normal
operation draws no 429 at all:

* message requests are released one at a time, in order, at most ``per_second`` a second
  (a little under 30, for network jitter). The next release is timed from when the previous
  one actually left, not from when it was planned: after an event-loop stall the schedule
  slips instead of catching up with a burst (a small ``tolerance`` of lateness is absorbed
  so ordinary timer jitter does not cost throughput);
* requests to the same chat are serialized and spaced ``chat_interval`` apart (groups and
  channels ``group_interval``), measured from when each was actually released, and wait for
  their chat *before* joining the global queue, so a busy chat never holds a slot idle;
* a 429 that still happens pauses *all* sending for the ``retry_after`` Telegram gave, then
  re-raises so the caller (the outbox) reschedules that one delivery. Requests queued during
  the pause leave one by one afterwards at the normal pace, never together.

Requests that send nothing (getUpdates, answerCallbackQuery, getChatMember...) pass at once.

A 429 pause is reported to ``on_pause`` (the bot persists it, so a process restarted inside
the pause still honours it; see ``bot.tg.app``).

:class:`FairUpdateProcessor` is the receiving side of the same concern: updates are processed
concurrently, but one chat may have only a few in flight, so a user sending hundreds of
commands cannot occupy every slot (each of their replies waits for that chat's spacing) and
stall everyone else; the number of updates waiting is bounded too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter, BaseUpdateProcessor

__all__ = ["FairUpdateProcessor", "PacedRateLimiter"]

_PACED_PREFIXES = ("send", "edit", "copy", "forward")
_CLEANUP_EVERY = 1000

log = logging.getLogger(__name__)


class PacedRateLimiter(BaseRateLimiter[None]):
    """Spaces outgoing messages globally and per chat; pauses everything on a 429."""

    def __init__(
        self,
        *,
        per_second: float = 28.0,
        chat_interval: float = 1.05,
        group_interval: float = 3.05,
        tolerance: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._gap = 1.0 / per_second
        self._tolerance = min(tolerance, self._gap / 2)
        self._chat_interval = chat_interval
        self._group_interval = group_interval
        self._clock = clock
        self._sleep = sleep
        self._next_global = 0.0
        self._release_lock = asyncio.Lock()
        self._next_chat: dict[str, float] = {}
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._resume_at = 0.0
        self._calls = 0
        self.rejections = 0  # 429s that reached us despite the pacing
        #: Called with the pause in seconds after each 429 (the bot persists the pause-until).
        self.on_pause: Callable[[float], None] | None = None

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Forget per-chat timers."""
        self._next_chat.clear()
        self._chat_locks.clear()

    def pause(self, seconds: float) -> None:
        """Hold every paced request for ``seconds`` (after a 429)."""
        self._resume_at = max(self._resume_at, self._clock() + seconds)

    async def process_request(  # noqa: PLR0917 - the signature is PTB's interface
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for this request's turn, send it, and pause everyone on a 429."""
        chat = data.get("chat_id")
        if chat is None or not endpoint.startswith(_PACED_PREFIXES):
            return await callback(*args, **kwargs)
        key = str(chat)
        lock = self._chat_locks.setdefault(key, asyncio.Lock())
        async with lock:
            await self._wait_for_slot(key)
        try:
            return await callback(*args, **kwargs)
        except RetryAfter as exc:
            self.rejections += 1
            retry = exc.retry_after
            seconds = retry.total_seconds() if isinstance(retry, timedelta) else float(retry)
            self.pause(seconds)
            if self.on_pause is not None:
                self.on_pause(seconds)
            raise
        finally:
            self._calls += 1
            if self._calls % _CLEANUP_EVERY == 0:
                self._forget_idle_chats()

    async def _wait_for_slot(self, key: str) -> None:
        """Sleep until the chat, any 429 pause and the global pace all allow one more message."""
        ready = self._next_chat.get(key, 0.0)
        now = self._clock()
        if ready > now:  # wait for the chat first, so it never holds the global queue
            await self._sleep(ready - now)
        async with self._release_lock:
            while (wait := max(self._next_global, self._resume_at) - self._clock()) > 0:
                await self._sleep(wait)  # re-checked: a 429 may have paused us meanwhile
            released = self._clock()
            # Late by more than the tolerance (a stall, a pause): time the next release from
            # now, so the backlog leaves at the normal pace instead of in a burst.
            self._next_global = max(self._next_global, released - self._tolerance) + self._gap
        interval = self._group_interval if key.startswith(("-", "@")) else self._chat_interval
        self._next_chat[key] = released + interval

    def _forget_idle_chats(self) -> None:
        """Drop timers of chats that are free again, so memory does not grow with users."""
        now = self._clock()
        for key in [k for k, t in self._next_chat.items() if t < now]:
            lock = self._chat_locks.get(key)
            if lock is None or not lock.locked():
                self._next_chat.pop(key, None)
                self._chat_locks.pop(key, None)


class FairUpdateProcessor(BaseUpdateProcessor):
    """Concurrent updates, ``max_concurrent`` at once and at most ``per_chat`` per chat.

    PTB's Application starts a task per fetched update and lets the processor decide when it
    runs. PTB's own semaphore (``max_concurrent_updates``, here ``max_admitted``) bounds the
    updates admitted at once; inside it, an update from a chat that already has ``per_chat``
    updates admitted is dropped at once instead of waiting, and the rest run ``max_concurrent``
    at a time. A flooding chat's excess therefore never holds a slot: it gets one "slow
    down" answer per burst (``slow_down``, sent in the background) and nobody else waits
    behind it. A dropped button press is answered every time (``answerCallbackQuery`` is
    not a message and costs no flood budget), so no button is left spinning. More than
    ``max_admitted`` updates wait only when that many chats are each busy at once.
    """

    def __init__(
        self,
        max_concurrent: int = 8,
        *,
        per_chat: int = 2,
        max_admitted: int = 256,
        slow_down: Callable[[Update], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(max_admitted)
        self._running = asyncio.BoundedSemaphore(max_concurrent)
        self._per_chat = per_chat
        self._busy: dict[int, int] = {}
        self._warned: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.slow_down = slow_down
        self.dropped = 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Drop the update if its chat is over its share, else run it when a slot is free."""
        chat = update.effective_chat if isinstance(update, Update) else None
        chat_id = None if chat is None else chat.id
        if chat_id is None:
            async with self._running:
                await coroutine
            return
        if self._busy.get(chat_id, 0) >= self._per_chat:
            self._drop(update, chat_id, coroutine)
            return
        self._busy[chat_id] = self._busy.get(chat_id, 0) + 1
        try:
            async with self._running:
                await coroutine
        finally:
            left = self._busy.pop(chat_id) - 1
            if left:
                self._busy[chat_id] = left
            else:
                self._warned.discard(chat_id)  # the burst is over

    def _drop(self, update: object, chat_id: int, coroutine: Awaitable[Any]) -> None:
        self.dropped += 1
        if asyncio.iscoroutine(coroutine):
            coroutine.close()  # never awaited: no "coroutine was never awaited" warning
        update_id = update.update_id if isinstance(update, Update) else None
        log.info("update %s from chat %s dropped: too many at once", update_id, chat_id)
        if self.slow_down is None or not isinstance(update, Update):
            return
        if update.callback_query is None:  # a button press is answered every time (below)
            if chat_id in self._warned:
                return
            self._warned.add(chat_id)
        task = asyncio.create_task(self._answer(update), name=f"slow-down:{chat_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, update: Update) -> None:
        assert self.slow_down is not None
        try:
            await self.slow_down(update)
        except Exception:  # best effort: the chat is flooding us anyway
            log.warning("could not tell chat %s to slow down", update.effective_chat)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Let pending "slow down" answers finish (they are paced, so briefly)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5.0)
