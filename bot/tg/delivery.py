"""Draining the outbox to Telegram: nothing lost, nothing sent twice, no one spammed.

The sender claims each due delivery (``sending``) just before its request leaves, with
bounded concurrency, and hands Telegram's answer to :mod:`bot.tg.settling`; transport
failures across chats pause it until a probe says Telegram answers again
(:mod:`bot.tg.outage`).

Only one sender per store sends: the holder of the store's lease
(:class:`bot.core.sender_lease.SenderLease`), which it renews while it runs and which
carries its state (paused since when and why, deliveries given up) for ``/status`` and
``corrbot health``. The loop never dies of an error: it logs, backs off and goes on.

Long (about 400 lines) because the loop, the lease it holds and the set of rows in flight
are one piece of state, and a crash-safe stop needs all three at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

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

from bot.compose import Services
from bot.core.clock import Clock
from bot.core.errors import StoreError
from bot.core.sender_lease import SenderLease
from bot.core.store import Store
from bot.core.store.outbox import Due
from bot.metrics import Metrics
from bot.tg.formatting import render_html_chunks
from bot.tg.outage import OutageWatch
from bot.tg.settling import DrainReport, Settler

__all__ = ["DrainReport", "Sender", "sender_for"]

log = logging.getLogger(__name__)

_IDLE_POLL_SECONDS = 1.0  # a cheap indexed query; bounds the delay of rows queued elsewhere
_CRASH_FIRST_DELAY = 1.0  # the loop failed unexpectedly: wait, then go on (doubling)
_CRASH_MAX_DELAY = 60.0
_PROBE_TIMEOUT = 10.0  # seconds a getMe probe may take


class Sender:
    """Sends due deliveries with bounded concurrency; one per store (it holds the lease).

    ``admins`` are told (through the outbox) of every alert a delivery gave up on.
    ``outage_after``, ``probe_first`` and ``probe_max`` shape the outage pause (see the
    module docstring); ``renew_every`` is how often, in seconds, the lease is renewed
    (and the state published); ``lease`` defaults to a new holder id on ``store`` and
    ``clock``. The sender needs nothing of the service: the outbox, the chats (a blocked
    chat is deactivated, a migrated group followed), the lease and the clock.
    """

    def __init__(
        self,
        bot: Bot,
        store: Store,
        clock: Clock,
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
        self._now = clock
        self._outbox = store.outbox
        self.lease = lease or SenderLease(store.meta, clock)
        self._watch = OutageWatch(
            self.lease,
            self._outbox,
            clock,
            outage_after=outage_after,
            probe_first=probe_first,
            probe_max=probe_max,
        )
        self._settler = Settler(
            store,
            clock,
            self.lease,
            self._watch,
            max_attempts=max_attempts,
            admins=admins,
            metrics=metrics,
            wake=self.wake,
        )
        self._renew_every = renew_every
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._stopping = False

    @property
    def paused(self) -> bool:
        """Whether sending is paused because Telegram seems unreachable."""
        return self._watch.paused

    @property
    def report(self) -> DrainReport:
        """What the current (or last) pass achieved."""
        return self._settler.report

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
        self._settler.report = DrainReport()
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
                    wait = (upcoming - self._now()).total_seconds()
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

    def _release(self) -> None:
        try:
            self.lease.release()
        except StoreError as exc:  # it expires on its own
            log.warning("cannot release the sender lease: %s", exc)

    async def _probe(self, *, deadline: float | None = None) -> None:
        """One cheap request (getMe) after the current backoff; resumes when it answers."""
        loop = asyncio.get_running_loop()
        delay = self._watch.probe_delay
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - loop.time()))
        await self._nap(delay)
        if self._stopping or (deadline is not None and loop.time() >= deadline):
            return
        try:
            await self._bot.get_me(read_timeout=_PROBE_TIMEOUT)
        except (NetworkError, TelegramError) as exc:
            self._watch.unreachable(exc)
        else:
            self._reached()

    async def _nap(self, seconds: float) -> None:
        """Sleep, cut short by :meth:`stop`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    def _accepting(self) -> bool:
        return not self._stopping and not self.paused and self.lease.held

    def _idle_wait(self) -> float:
        upcoming = self._outbox.next_due_at()
        if upcoming is None:
            return _IDLE_POLL_SECONDS
        seconds = (upcoming - self._now()).total_seconds()
        return min(_IDLE_POLL_SECONDS, max(0.05, seconds))

    async def _start_due(self) -> int:
        """Start a task for each due delivery not already in flight; returns how many."""
        if not self._accepting():
            return 0
        due = self._outbox.due(self._now(), exclude=self._in_flight)
        self._settler.report_set_aside()
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
            self._settler.failed_unexpectedly(item)
        finally:
            self._in_flight.discard(item.id)
            self._slots.release()

    async def _attempt(self, item: Due) -> None:
        try:
            message_id = await self._send(item)
        except (RetryAfter, ChatMigrated, Forbidden, BadRequest) as exc:
            self._reached()  # Telegram answered, whatever it said
            self._settler.answered(item, exc)
        except (NetworkError, TelegramError) as exc:  # timeouts, 5xx, connection errors
            self._settler.transient(item, exc)
        else:
            self._reached()
            await self._settler.sent(item, message_id)

    def _reached(self) -> None:
        """Telegram answered: any pause is over, and what waited goes now."""
        if self._watch.reached():
            self._wake.set()

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


def sender_for(bot: Bot, services: Services) -> Sender:
    """The sender of the running bot and of ``corrbot check``, as ``delivery.*`` configures it."""
    config = services.config
    return Sender(
        bot,
        services.store,
        services.clock,
        max_attempts=config.delivery.max_attempts,
        concurrency=config.delivery.concurrency,
        metrics=services.metrics,
        admins=config.telegram.admins,
    )


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel a helper task and wait for it, whatever it ended with."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
