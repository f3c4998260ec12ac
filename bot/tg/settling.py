"""What becomes of each delivery, by what Telegram answered: the outbox rows, told and counted.

Each due delivery is claimed (``sending``) just before its request leaves and marked
``sent`` as soon as Telegram confirms it. What Telegram answers decides the rest:

==========================  ===============================================================
429 Too Many Requests       wait the ``retry_after`` given (the limiter pauses everyone)
403 / 400 chat not found    deactivate the chat (kept, not deleted); drop its deliveries
chat migrated               move the subscription to the supergroup id and send there (an
                            attempt: a chain of migrations cannot loop for ever)
other 400                   give up on this delivery, logged with the alert's key
timeout, 5xx, network       retry with bounded exponential backoff, ``max_attempts`` times,
                            unless Telegram is unreachable (:mod:`bot.tg.outage`)
==========================  ===============================================================

A timeout is ambiguous (the message may have arrived): it is retried, since a duplicate
is better than a lost alert. A delivery that gives up is reported to the admins through
the outbox (once per alert). Every outcome is counted (metrics) and logged under a stable
event name (``delivery.sent``, ``delivery.retry``, ...). A little long because each
answer's row change, count, log line and notice stand together, one method per answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter

from bot.core.clock import Clock
from bot.core.errors import StoreError
from bot.core.sender_lease import SenderLease
from bot.core.store import Store
from bot.core.store.outbox import Due
from bot.logsetup import redact
from bot.metrics import Metrics
from bot.present import notices
from bot.tg.outage import OutageWatch

__all__ = ["DrainReport", "Settler"]

log = logging.getLogger(__name__)

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
    #: Another live sender held the store's lease: nothing was sent, the rows are its.
    left_to: str | None = None


class Settler:
    """Settles deliveries for one sender: rows, the chats they go to, the report, the admins.

    ``wake`` is called when a notice to the admins was queued, so the sender sends it now.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        lease: SenderLease,
        watch: OutageWatch,
        *,
        max_attempts: int,
        admins: Sequence[int],
        metrics: Metrics | None,
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self._outbox = store.outbox
        self._now = clock
        self._lease = lease
        self._watch = watch
        self._max_attempts = max_attempts
        self._admins = tuple(admins)
        self._metrics = metrics
        self._wake = wake
        self.report = DrainReport()

    async def sent(self, item: Due, message_id: int) -> None:
        """Telegram confirmed the delivery: recorded, counted, logged."""
        await self._record_sent(item, message_id)
        self.report.sent += 1
        self._outcome("sent", item, "delivery sent: %s to chat %s", item.key, item.chat_id)

    def failed_unexpectedly(self, item: Due) -> None:
        """A bug or the store failed mid-delivery: retried in a minute, or given up."""
        try:
            if item.attempts + 1 >= self._max_attempts:
                self.give_up(item, "internal error", "internal error", "failed for good")
            else:
                self._outbox.retry(
                    item.id, at=self._now() + timedelta(minutes=1), error="internal error"
                )
        except StoreError:  # left 'sending': resumed (sent again) at the next start
            log.exception("delivery %s cannot be rescheduled", item.id)

    def _outcome(
        self, outcome: str, item: Due, message: str, *args: object, level: int = logging.INFO
    ) -> None:
        """Count and log one delivery outcome under a stable event name."""
        if self._metrics is not None:
            self._metrics.deliveries.labels(outcome).inc()
        extra = {"event": f"delivery.{outcome}", "chat_id": item.chat_id, "alert": item.key}
        log.log(level, message, *args, extra=extra)

    def answered(self, item: Due, exc: RetryAfter | ChatMigrated | Forbidden | BadRequest) -> None:
        """Settle a delivery Telegram refused, by what it answered."""
        if isinstance(exc, RetryAfter):
            wait = exc.retry_after  # a timedelta: bot.tg opts in to PTB_TIMEDELTA
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            self._outbox.retry(
                item.id,
                at=self._now() + timedelta(seconds=seconds),
                error=str(exc),
                count=False,
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
        elif isinstance(exc, ChatMigrated):
            self._migrated(item, exc.new_chat_id)
        elif isinstance(exc, Forbidden):
            self._chat_gone(item, f"forbidden: {exc.message}")
        elif "chat not found" in exc.message.lower():
            self._chat_gone(item, "chat not found")
        else:
            self.give_up(item, f"bad request: {exc.message}", exc.message, "rejected")

    def _migrated(self, item: Due, new_id: int) -> None:
        """Follow a group to its supergroup; merge with the new id's delivery if it has one.

        The resend counts as an attempt, so a chain (or a loop) of migrations ends.
        """
        now = self._now()
        self._store.subscribers.migrate(item.chat_id, new_id, now=now)
        if self._outbox.status(item.id) == "dropped":
            self.report.dropped += 1
            self._outcome(
                "merged",
                item,
                "chat %s migrated to %s, which already has this message: merged",
                item.chat_id,
                new_id,
            )
            return
        if item.attempts + 1 >= self._max_attempts:
            reason = f"chat migrated to {new_id}"
            self.give_up(
                item,
                f"gave up after {item.attempts + 1} attempts: {reason}",
                reason,
                "failed for good",
            )
            return
        self._outbox.retry(item.id, at=now, error=f"chat migrated to {new_id}")
        self.report.retried += 1
        self._outcome(
            "migrated", item, "chat %s migrated to %s: subscription moved", item.chat_id, new_id
        )

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
                self._outbox.sent(item.id, message_id=message_id, now=self._now())
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

    def _chat_gone(self, item: Due, reason: str) -> None:
        """The chat blocked the bot or no longer exists: stop sending there, keep the record."""
        self._store.subscribers.deactivate(item.chat_id, reason=reason, now=self._now())
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

    def give_up(self, item: Due, stored: str, reason: str, how: str) -> None:
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
        self._gave_up(item.key, item.chat_id, reason)

    def _gave_up(self, key: str, chat_id: int, reason: str) -> None:
        """Count a give-up in the published state and tell the admins, once per alert.

        A notice that itself fails is only logged: telling the admins about it would go
        through the same failing chat.
        """
        self._lease.given_up += 1
        self._lease.publish()
        if not self._admins or key.startswith("notice:"):
            return
        message = notices.delivery_failed(redact(f"{key} to chat {chat_id}: {reason}"))
        try:
            key = f"notice:delivery-failed:{key}"
            if self._outbox.notice(key, message.to_json(), self._admins, now=self._now()):
                self._wake()
        except StoreError:
            log.exception("cannot queue the admins' notice about %s", key)

    def report_set_aside(self) -> None:
        """Rows the outbox could not read were failed there; count them and tell the admins."""
        while self._outbox.set_aside:
            row = self._outbox.set_aside.pop(0)
            self.report.failed += 1
            self.report.errors.append(f"{row.key} to {row.chat_id}: {row.error}")
            if self._metrics is not None:
                self._metrics.deliveries.labels("failed").inc()
            self._gave_up(row.key, row.chat_id, row.error)

    def transient(self, item: Due, exc: Exception) -> None:
        """A transport failure: retried with backoff, unless it is an outage's (then free)."""
        if self._watch.transport_failed(item, exc):
            self._outbox.retry(item.id, at=self._now(), error=str(exc), count=False)
            self.report.retried += 1
            self._outcome(
                "retry",
                item,
                "delivery of %s to chat %s failed while Telegram is unreachable (%s)",
                item.key,
                item.chat_id,
                exc,
                level=logging.WARNING,
            )
            return
        attempts = item.attempts + 1
        if attempts >= self._max_attempts:
            if self._watch.defer_give_up(item):
                at = self._now() + self._outbox.backoff(attempts)
                self._outbox.retry(item.id, at=at, error=str(exc), count=False)
                self.report.retried += 1
                return
            self.give_up(
                item, f"gave up after {attempts} attempts: {exc}", str(exc), "failed for good"
            )
            return
        at = self._now() + self._outbox.backoff(attempts)
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
