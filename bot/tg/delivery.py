"""Draining the outbox to Telegram: nothing lost, nothing sent twice, no one spammed.

Each due delivery is claimed (``sending``) just before its request leaves and marked
``sent`` as soon as Telegram confirms it. What Telegram answers decides the rest:

==========================  ===============================================================
429 Too Many Requests       wait the ``retry_after`` given (the limiter pauses everyone)
403 / 400 chat not found    deactivate the chat (kept, not deleted); drop its deliveries
chat migrated               move the subscription to the supergroup id and send there (an
                            attempt: a chain of migrations cannot loop for ever)
other 400                   give up on this delivery, logged with the alert's key
timeout, 5xx, network       retry with bounded exponential backoff, ``max_attempts`` times
==========================  ===============================================================

A timeout is ambiguous (the message may have arrived): it is retried, since a duplicate
is better than a lost alert.

An outage is not a delivery's fault. When transport-level failures (refused connections,
timeouts, 5xx) follow one another across ``outage_after`` different chats with no success
between them, the sender stops claiming rows and probes Telegram with ``getMe`` (backoff
``probe_first`` .. ``probe_max`` seconds). If a probe fails too, the API is unreachable:
the attempts those failures cost are given back, and sending resumes when a probe answers.
If the first probe answers, the API is up and only sends fail: the attempts stand, so a
send that always fails still gives up after ``max_attempts``. A delivery that gives up is
reported to the admins through the outbox (once per alert).

Only one sender per store sends: the holder of the store's lease
(:class:`bot.core.sender_lease.SenderLease`), which it renews while it runs and which
carries its state (paused since when and why, deliveries given up) for ``/status`` and
``corrbot health``. The loop never dies of an error: it logs, backs off and goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
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
from bot.core.message import Message
from bot.core.sender_lease import SenderLease
from bot.core.service import CorrService
from bot.core.store.outbox import Due
from bot.logsetup import redact
from bot.metrics import Metrics
from bot.tg.formatting import render_html_chunks

__all__ = ["DrainReport", "Sender"]

log = logging.getLogger(__name__)

_IDLE_POLL_SECONDS = 1.0  # a cheap indexed query; bounds the delay of rows queued elsewhere
_RECORD_ATTEMPTS = 12  # recording a confirmed send: ~43 s of backoff, plus SQLite busy waits
_RECORD_FIRST_DELAY = 0.05
_RECORD_MAX_DELAY = 10.0
_CRASH_FIRST_DELAY = 1.0  # the loop failed unexpectedly: wait, then go on (doubling)
_CRASH_MAX_DELAY = 60.0
_PROBE_TIMEOUT = 10.0  # seconds a getMe probe may take


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


class Sender:
    """Sends due deliveries with bounded concurrency; one per store (it holds the lease).

    ``admins`` are told (through the outbox) of every alert a delivery gave up on.
    ``outage_after``, ``probe_first`` and ``probe_max`` shape the outage pause (see the
    module docstring); ``renew_every`` is how often, in seconds, the lease is renewed
    (and the state published); ``lease`` defaults to a new holder id on the service's
    store and clock.
    """

    def __init__(
        self,
        bot: Bot,
        service: CorrService,
        *,
        max_attempts: int = 8,
        concurrency: int = 32,
        metrics: Metrics | None = None,
        admins: Sequence[int] = (),
        lease: SenderLease | None = None,
        outage_after: int = 5,
        probe_first: float = 1.0,
        probe_max: float = 60.0,
        renew_every: float = 5.0,
    ) -> None:
        self._bot = bot
        self._metrics = metrics
        self._service = service
        self._outbox = service.outbox
        self._max_attempts = max_attempts
        self._admins = tuple(admins)
        self.lease = lease or SenderLease(service.store.meta, service.now)
        self._outage_after = max(1, outage_after)
        self._probe_first = probe_first
        self._probe_max = max(probe_first, probe_max)
        self._probe_delay = probe_first
        self._renew_every = renew_every
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False
        # Outage detection: transport failures since the last success, by chat and row.
        self._streak_chats: set[int] = set()
        self._suspects: set[int] = set()  # rows whose counted attempt failed in the streak
        self._deferred: set[int] = set()  # rows whose give-up waited once for the verdict
        self._outage = False  # a probe failed too: Telegram cannot be reached
        self.report = DrainReport()

    @property
    def paused(self) -> bool:
        """Whether sending is paused because Telegram seems unreachable."""
        return self.lease.paused_since is not None

    def wake(self) -> None:
        """New deliveries were queued: look at the outbox now."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until :meth:`stop`: due rows now, later rows when they fall due.

        Waits for the store's lease first (another process may be sending). Whatever
        fails inside is logged and the loop goes on after a pause: a dead sender would
        leave every later delivery stuck while commands are still answered.
        """
        delay = _CRASH_FIRST_DELAY
        try:
            while not self._stopping:
                try:
                    await self._serve()
                    delay = _CRASH_FIRST_DELAY
                except Exception:
                    log.exception(
                        "the sender failed; going on in %.0f s",
                        delay,
                        extra={"event": "sender.error"},
                    )
                    await self._nap(delay)
                    delay = min(delay * 2, _CRASH_MAX_DELAY)
        finally:
            if not self._tasks:  # else stop() releases once they are done
                self._release()

    async def _serve(self) -> None:
        """Hold the lease and send until stopping or the lease is lost."""
        if not await self._hold_lease():
            return
        heartbeat = asyncio.create_task(self._heartbeat(), name="sender-lease")
        try:
            self._outbox.resume(exclude=self._in_flight)
            while not self._stopping and self.lease.held:
                if self.paused:
                    await self._probe()
                    continue
                if await self._start_due():
                    continue
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_wait())
        finally:
            await _cancel(heartbeat)

    async def drain(self, *, within: float = 600.0) -> DrainReport:
        """Deliver everything due now, and retries that fall due ``within`` seconds.

        When another live sender holds the store, nothing is sent (``left_to`` names it):
        it delivers the rows. While Telegram is unreachable the drain probes until it
        answers or ``within`` runs out; the rows left wait, attempts intact.
        """
        self.report = DrainReport()
        if not self.lease.acquire():
            state = self.lease.current()
            self.report.left_to = state.holder if state is not None else "another sender"
            return self.report
        heartbeat = asyncio.create_task(self._heartbeat(), name="sender-lease")
        try:
            await self._drain_leased(within)
        finally:
            await _cancel(heartbeat)
            if not self._tasks:
                self._release()
        return self.report

    async def _drain_leased(self, within: float) -> None:
        self._outbox.resume(exclude=self._in_flight)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while loop.time() < deadline and self.lease.held:
            if self.paused:
                await self._probe(deadline=deadline)
                continue
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

    async def stop(self, *, grace: float = 10.0) -> None:
        """Take nothing new; let in-flight sends finish (up to ``grace``), then leave the rest.

        Whatever is still in flight after the grace period stays ``sending`` in the store
        and is sent again at the next start: persisted, never lost. The lease is given
        back, so the next sender need not wait for it to expire.
        """
        self._stopping = True
        self._stopped.set()
        self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
        self._release()

    # -- the lease -----------------------------------------------------------------------

    async def _hold_lease(self) -> bool:
        """Wait until this sender holds the store's lease; ``False`` if stopped first."""
        waited = False
        while not self._stopping:
            if self.lease.acquire():
                if waited:
                    log.info("sender lease taken", extra={"event": "sender.lease_taken"})
                return True
            if not waited:
                state = self.lease.current()
                log.warning(
                    "another sender (%s) holds this store; waiting for its lease",
                    state.holder if state is not None else "?",
                    extra={"event": "sender.lease_waiting"},
                )
                waited = True
            await self._nap(self._renew_every)
        return False

    async def _heartbeat(self) -> None:
        """Renew the lease every ``renew_every`` seconds: the sender's proof of life."""
        while True:
            await asyncio.sleep(self._renew_every)
            try:
                if not self.lease.renew():
                    log.error(
                        "the sender lease was taken over; sending stops",
                        extra={"event": "sender.lease_lost"},
                    )
                    self._wake.set()
                    return
            except StoreError as exc:  # expires after its ttl unless a later renewal works
                log.warning("cannot renew the sender lease: %s", exc)

    def _publish(self) -> None:
        """Write the state at once (a pause, a give-up), not at the next renewal."""
        try:
            self.lease.renew()
        except StoreError as exc:
            log.warning("cannot record the sender state: %s", exc)

    def _release(self) -> None:
        try:
            self.lease.release()
        except StoreError as exc:  # it expires on its own
            log.warning("cannot release the sender lease: %s", exc)

    async def _nap(self, seconds: float) -> None:
        """Sleep, cut short by :meth:`stop`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    # -- outages -------------------------------------------------------------------------

    def _transport_failed(self, item: Due, exc: Exception) -> bool:
        """Note a transport failure; ``True`` if Telegram is known unreachable (not counted)."""
        if self._outage:
            return True
        self._streak_chats.add(item.chat_id)
        self._suspects.add(item.id)
        if not self.paused and len(self._streak_chats) >= self._outage_after:
            self.lease.paused_since = self._service.now()
            self.lease.pause_reason = _brief(exc)
            self._probe_delay = self._probe_first
            self._publish()
            log.warning(
                "%d chats in a row failed to reach Telegram (%s); sending paused, probing",
                len(self._streak_chats),
                self.lease.pause_reason,
                extra={"event": "sender.paused"},
            )
        return False

    def _reached(self) -> None:
        """Telegram answered: the streak is over, and so is any pause."""
        self._streak_chats.clear()
        self._suspects.clear()
        if self.paused:
            since = self.lease.paused_since
            self.lease.paused_since = None
            self.lease.pause_reason = None
            self._outage = False
            self._publish()
            paused_for = (self._service.now() - since).total_seconds() if since else 0.0
            log.info(
                "Telegram answers again; sending resumed after %.0f s",
                paused_for,
                extra={"event": "sender.resumed"},
            )
            self._wake.set()

    async def _probe(self, *, deadline: float | None = None) -> None:
        """One cheap request (getMe) after the current backoff; resumes when it answers."""
        loop = asyncio.get_running_loop()
        delay = self._probe_delay
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - loop.time()))
        await self._nap(delay)
        if self._stopping or (deadline is not None and loop.time() >= deadline):
            return
        try:
            await self._bot.get_me(read_timeout=_PROBE_TIMEOUT)
        except (NetworkError, TelegramError) as exc:
            self._unreachable(exc)
        else:
            self._reached()

    def _unreachable(self, exc: Exception) -> None:
        """A probe failed as well: the failures were the outage's, their attempts go back."""
        self._probe_delay = min(self._probe_delay * 2, self._probe_max)
        if self._outage:
            return
        self._outage = True
        given_back = self._outbox.refund(self._suspects, now=self._service.now())
        self._suspects.clear()
        self.lease.pause_reason = f"Telegram unreachable: {_brief(exc)}"
        self._publish()
        log.warning(
            "Telegram cannot be reached (%s); %d attempts given back, probing until it answers",
            self.lease.pause_reason,
            given_back,
            extra={"event": "sender.outage"},
        )

    def _outcome(
        self, outcome: str, item: Due, message: str, *args: object, level: int = logging.INFO
    ) -> None:
        """Count and log one delivery outcome under a stable event name."""
        if self._metrics is not None:
            self._metrics.deliveries.labels(outcome).inc()
        extra = {"event": f"delivery.{outcome}", "chat_id": item.chat_id, "alert": item.key}
        log.log(level, message, *args, extra=extra)

    def _accepting(self) -> bool:
        return not self._stopping and not self.paused and self.lease.held

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
        self._report_set_aside()
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
                if item.attempts + 1 >= self._max_attempts:
                    self._give_up(item, "internal error", "internal error", "failed for good")
                else:
                    self._outbox.retry(
                        item.id,
                        at=self._service.now() + timedelta(minutes=1),
                        error="internal error",
                    )
            except StoreError:  # left 'sending': resumed (sent again) at the next start
                log.exception("delivery %s cannot be rescheduled", item.id)
        finally:
            self._in_flight.discard(item.id)
            self._slots.release()

    async def _attempt(self, item: Due) -> None:
        try:
            message_id = await self._send(item)
        except (RetryAfter, ChatMigrated, Forbidden, BadRequest) as exc:
            self._reached()  # Telegram answered, whatever it said
            self._answered(item, exc)
        except (NetworkError, TelegramError) as exc:  # timeouts, 5xx, connection errors
            self._transient(item, exc)
        else:
            self._reached()
            await self._record_sent(item, message_id)
            self.report.sent += 1
            self._outcome("sent", item, "delivery sent: %s to chat %s", item.key, item.chat_id)

    def _answered(self, item: Due, exc: RetryAfter | ChatMigrated | Forbidden | BadRequest) -> None:
        """Settle a delivery Telegram refused, by what it answered."""
        if isinstance(exc, RetryAfter):
            wait = exc.retry_after  # a timedelta: bot.tg opts in to PTB_TIMEDELTA
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            self._outbox.retry(
                item.id,
                at=self._service.now() + timedelta(seconds=seconds),
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
            self._give_up(item, f"bad request: {exc.message}", exc.message, "rejected")

    def _migrated(self, item: Due, new_id: int) -> None:
        """Follow a group to its supergroup; merge with the new id's delivery if it has one.

        The resend counts as an attempt, so a chain (or a loop) of migrations ends.
        """
        now = self._service.now()
        self._service.subscribers.migrate(item.chat_id, new_id, now=now)
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
            self._give_up(
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
        self._gave_up(item.key, item.chat_id, reason)

    def _gave_up(self, key: str, chat_id: int, reason: str) -> None:
        """Count a give-up in the published state and tell the admins, once per alert.

        A notice that itself fails is only logged: telling the admins about it would go
        through the same failing chat.
        """
        self.lease.given_up += 1
        self._publish()
        if not self._admins or key.startswith("notice:"):
            return
        message = Message(
            title="A delivery failed for good",
            lead=redact(f"{key} to chat {chat_id}: {reason}")[:3000],
            footer="corrbot: later failures of this alert are counted, not told",
        )
        try:
            if self._service.notify(f"notice:delivery-failed:{key}", message, self._admins):
                self._wake.set()
        except StoreError:
            log.exception("cannot queue the admins' notice about %s", key)

    def _report_set_aside(self) -> None:
        """Rows the outbox could not read were failed there; count them and tell the admins."""
        while self._outbox.set_aside:
            row = self._outbox.set_aside.pop(0)
            self.report.failed += 1
            self.report.errors.append(f"{row.key} to {row.chat_id}: {row.error}")
            if self._metrics is not None:
                self._metrics.deliveries.labels("failed").inc()
            self._gave_up(row.key, row.chat_id, row.error)

    def _transient(self, item: Due, exc: Exception) -> None:
        """A transport failure: retried with backoff, unless it is an outage's (then free)."""
        if self._transport_failed(item, exc):
            self._outbox.retry(item.id, at=self._service.now(), error=str(exc), count=False)
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
            if len(self._streak_chats) > 1 and item.id not in self._deferred:
                # Other chats fail alike: maybe an outage. Wait once for the probe's verdict.
                self._deferred.add(item.id)
                at = self._service.now() + self._outbox.backoff(attempts)
                self._outbox.retry(item.id, at=at, error=str(exc), count=False)
                self.report.retried += 1
                return
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


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel a helper task and wait for it, whatever it ended with."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def _brief(exc: Exception) -> str:
    """One short line for the published state: the error, without an HTML error page."""
    text = str(exc).split(". Parsing the server response", 1)[0]
    return redact(f"{type(exc).__name__}: {text}")[:160]
