"""Draining the outbox to Telegram: nothing lost, nothing sent twice, no one spammed.

Each due delivery is claimed (``sending``) just before its request leaves and marked
``sent`` as soon as Telegram confirms it. What Telegram answers decides the rest:

==========================  ===============================================================
429 Too Many Requests       wait the ``retry_after`` given (the limiter pauses everyone)
403 / 400 chat not found    deactivate the chat (kept, not deleted); drop its deliveries
chat migrated               move the subscription to the supergroup id and send there
other 400                   give up on this delivery, logged with the alert's key
timeout, 5xx, network       retry with bounded exponential backoff, ``max_attempts`` times
==========================  ===============================================================

A timeout is ambiguous (the message may have arrived): it is retried, since a duplicate
is better than a lost alert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from telegram import Bot, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
)

from bot.core.errors import StoreError
from bot.core.outbox import Due
from bot.core.service import CorrService
from bot.metrics import Metrics
from bot.tg.formatting import render_html_chunks

__all__ = ["DrainReport", "Sender"]

log = logging.getLogger(__name__)

_IDLE_POLL_SECONDS = 1.0  # a cheap indexed query; bounds the delay of rows queued elsewhere
_RECORD_ATTEMPTS = 12  # recording a confirmed send: ~43 s of backoff, plus SQLite busy waits
_RECORD_FIRST_DELAY = 0.05
_RECORD_MAX_DELAY = 10.0


@dataclass
class DrainReport:
    """What one pass over the outbox achieved."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)


class Sender:
    """Sends due deliveries with bounded concurrency; one instance per process."""

    def __init__(
        self,
        bot: Bot,
        service: CorrService,
        *,
        max_attempts: int = 8,
        concurrency: int = 32,
        metrics: Metrics | None = None,
    ) -> None:
        self._bot = bot
        self._metrics = metrics
        self._service = service
        self._outbox = service.outbox
        self._max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self.report = DrainReport()

    def wake(self) -> None:
        """New deliveries were queued: look at the outbox now."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver forever (until :meth:`stop`): due rows now, later rows when they fall due."""
        self._outbox.resume()
        while not self._stopping:
            started = await self._start_due()
            if started:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle_wait())

    async def drain(self, *, within: float = 600.0) -> DrainReport:
        """Deliver everything due now, and retries that fall due ``within`` seconds."""
        self.report = DrainReport()
        self._outbox.resume()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline:
            if not await self._start_due():
                if not self._tasks:
                    upcoming = self._outbox.next_due_at()
                    if upcoming is None:
                        break
                    wait = (upcoming - self._service.now()).total_seconds()
                    if loop.time() + wait > deadline:
                        break
                    await asyncio.sleep(max(0.05, wait))
                    continue
                await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - loop.time()))
        return self.report

    async def stop(self, *, grace: float = 10.0) -> None:
        """Take nothing new; let in-flight sends finish (up to ``grace``), then leave the rest.

        Whatever is still in flight after the grace period stays ``sending`` in the store
        and is sent again at the next start: persisted, never lost.
        """
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()

    def _outcome(
        self, outcome: str, item: Due, message: str, *args: object, level: int = logging.INFO
    ) -> None:
        """Count and log one delivery outcome under a stable event name."""
        if self._metrics is not None:
            self._metrics.deliveries.labels(outcome).inc()
        extra = {"event": f"delivery.{outcome}", "chat_id": item.chat_id, "alert": item.key}
        log.log(level, message, *args, extra=extra)

    def _accepting(self) -> bool:
        return not self._stopping

    def _idle_wait(self) -> float:
        upcoming = self._outbox.next_due_at()
        if upcoming is None:
            return _IDLE_POLL_SECONDS
        seconds = (upcoming - self._service.now()).total_seconds()
        return min(_IDLE_POLL_SECONDS, max(0.05, seconds))

    async def _start_due(self) -> int:
        """Start a task for each due delivery not already in flight; returns how many."""
        if not self._accepting():
            return 0
        due = self._outbox.due(self._service.now(), exclude=self._in_flight)
        for item in due:
            await self._slots.acquire()
            if not self._accepting():
                self._slots.release()
                break
            self._in_flight.add(item.id)
            task = asyncio.create_task(self._deliver(item), name=f"deliver-{item.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(due)

    async def _deliver(self, item: Due) -> None:
        try:
            if not self._outbox.claim(item.id):
                return  # dropped or taken meanwhile
            await self._attempt(item)
        except Exception:  # a bug or the store failing must not kill the sender
            log.exception(
                "delivery %s of %s to chat %s failed unexpectedly", item.id, item.key, item.chat_id
            )
            try:
                self._outbox.retry(
                    item.id, at=self._service.now() + timedelta(minutes=1), error="internal error"
                )
            except StoreError:  # left 'sending': resumed (sent again) at the next start
                log.exception("delivery %s cannot be rescheduled", item.id)
        finally:
            self._in_flight.discard(item.id)
            self._slots.release()

    async def _attempt(self, item: Due) -> None:
        now = self._service.now
        try:
            message_id = await self._send(item)
        except RetryAfter as exc:
            wait = exc.retry_after  # a timedelta: bot.tg opts in to PTB_TIMEDELTA
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            self._outbox.retry(
                item.id, at=now() + timedelta(seconds=seconds), error=str(exc), count=False
            )
            self.report.retried += 1
            self._outcome(
                "retry",
                item,
                "delivery to chat %s: 429, retry after %ss",
                item.chat_id,
                seconds,
                level=logging.WARNING,
            )
        except ChatMigrated as exc:
            self._service.subscribers.migrate(item.chat_id, exc.new_chat_id, now=now())
            self._outbox.retry(
                item.id, at=now(), error=f"chat migrated to {exc.new_chat_id}", count=False
            )
            self.report.retried += 1
            self._outcome(
                "migrated",
                item,
                "chat %s migrated to %s: subscription moved",
                item.chat_id,
                exc.new_chat_id,
            )
        except Forbidden as exc:
            self._chat_gone(item, f"forbidden: {exc.message}")
        except BadRequest as exc:
            if "chat not found" in exc.message.lower():
                self._chat_gone(item, "chat not found")
            else:
                self._give_up(item, f"bad request: {exc.message}", exc.message, "rejected")
        except (NetworkError, TelegramError) as exc:  # timeouts, 5xx, connection errors
            self._transient(item, exc)
        else:
            await self._record_sent(item, message_id)
            self.report.sent += 1
            self._outcome("sent", item, "delivery sent: %s to chat %s", item.key, item.chat_id)

    async def _record_sent(self, item: Due, message_id: int) -> None:
        """Mark a delivery Telegram confirmed as ``sent``, riding out a briefly locked store.

        Telegram has the message, so this must never turn into a resend: the write is
        retried with backoff. Should the store stay unwritable for the whole budget the row
        stays ``sending`` and is sent again after a restart: the one in-flight duplicate
        the design allows, logged as such.
        """
        delay = _RECORD_FIRST_DELAY
        for attempt in range(1, _RECORD_ATTEMPTS + 1):
            try:
                self._outbox.sent(item.id, message_id=message_id, now=self._service.now())
            except StoreError:
                if attempt == _RECORD_ATTEMPTS:
                    log.exception(
                        "delivery %s of %s to chat %s was sent but cannot be recorded; "
                        "it may be sent once more after a restart",
                        item.id,
                        item.key,
                        item.chat_id,
                        extra={"event": "delivery.unrecorded", "chat_id": item.chat_id},
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECORD_MAX_DELAY)
            else:
                return

    async def _send(self, item: Due) -> int:
        """Send every chunk of the message; returns the id of the first one.

        A follow-up inside an episode answers the chat's copy of the episode's first alert
        (``reply_parameters``), and still goes if that message was deleted meanwhile.
        """
        first = 0
        for index, chunk in enumerate(render_html_chunks(item.message)):
            reply = (
                ReplyParameters(item.reply_to, allow_sending_without_reply=True)
                if index == 0 and item.reply_to is not None
                else None
            )
            sent = await self._bot.send_message(
                chat_id=item.chat_id,
                text=chunk,
                parse_mode=ParseMode.HTML,
                disable_notification=item.silent,
                message_thread_id=item.thread_id,
                link_preview_options=None,
                reply_parameters=reply,
                read_timeout=15,
                write_timeout=15,
            )
            if index == 0:
                first = sent.message_id
        return first

    def _chat_gone(self, item: Due, reason: str) -> None:
        """The chat blocked the bot or no longer exists: stop sending there, keep the record."""
        self._service.subscribers.deactivate(item.chat_id, reason=reason, now=self._service.now())
        self._outbox.drop(item.id, error=reason)
        self.report.dropped += 1
        self._outcome(
            "deactivated",
            item,
            "chat %s deactivated: %s",
            item.chat_id,
            reason,
            level=logging.WARNING,
        )

    def _give_up(self, item: Due, stored: str, reason: str, how: str) -> None:
        """Settle a delivery as failed for good: ``stored`` on its row, ``reason`` reported."""
        self._outbox.fail(item.id, error=stored)
        self.report.failed += 1
        self.report.errors.append(f"{item.key} to {item.chat_id}: {reason}")
        self._outcome(
            "failed",
            item,
            f"delivery of %s to chat %s {how}: %s",
            item.key,
            item.chat_id,
            reason,
            level=logging.ERROR,
        )

    def _transient(self, item: Due, exc: Exception) -> None:
        attempts = item.attempts + 1
        if attempts >= self._max_attempts:
            self._give_up(
                item, f"gave up after {attempts} attempts: {exc}", str(exc), "failed for good"
            )
            return
        at = self._service.now() + self._outbox.backoff(attempts)
        self._outbox.retry(item.id, at=at, error=str(exc))
        self.report.retried += 1
        self._outcome(
            "retry",
            item,
            "delivery of %s to chat %s failed (%s); retry %d at %s",
            item.key,
            item.chat_id,
            exc,
            attempts,
            at,
            level=logging.WARNING,
        )
