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
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

__all__ = ["PacedRateLimiter"]

_PACED_PREFIXES = ("send", "edit", "copy", "forward")
_CLEANUP_EVERY = 1000


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
            self.pause(retry.total_seconds() if isinstance(retry, timedelta) else float(retry))
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
