"""Pacing every message the bot sends so Telegram's flood limits are never reached.

Telegram allows about 30 messages a second overall, one a second to the same chat and 20 a
minute to the same group, and answers 429 ("retry after N") beyond that. python-telegram-bot's
stock ``AIORateLimiter`` reacts to bursts; this limiter spaces requests instead, so normal
operation draws no 429 at all:

* every message request reserves the next free slot of a global clock ticking at
  ``per_second`` (a little under 30, for network jitter);
* requests to the same chat are serialized and spaced ``chat_interval`` apart (groups and
  channels ``group_interval``), measured from when each was actually released;
* a 429 that still happens pauses *all* sending for the ``retry_after`` Telegram gave, then
  re-raises so the caller (the outbox) reschedules that one delivery.

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
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._gap = 1.0 / per_second
        self._chat_interval = chat_interval
        self._group_interval = group_interval
        self._clock = clock
        self._sleep = sleep
        self._next_global = 0.0
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
        """Sleep until both the chat and the global clock allow one more message."""
        now = self._clock()
        ready = self._next_chat.get(key, 0.0)
        if ready > now:  # wait for the chat first, so it never holds a global slot idle
            await self._sleep(ready - now)
            now = self._clock()
        slot = max(now, self._next_global, self._resume_at)
        self._next_global = slot + self._gap
        interval = self._group_interval if key.startswith(("-", "@")) else self._chat_interval
        self._next_chat[key] = slot + interval
        if slot > now:
            await self._sleep(slot - now)
        while self._resume_at > self._clock():  # a 429 arrived while we waited
            await self._sleep(self._resume_at - self._clock())

    def _forget_idle_chats(self) -> None:
        """Drop timers of chats that are free again, so memory does not grow with users."""
        now = self._clock()
        for key in [k for k, t in self._next_chat.items() if t < now]:
            lock = self._chat_locks.get(key)
            if lock is None or not lock.locked():
                self._next_chat.pop(key, None)
                self._chat_locks.pop(key, None)
