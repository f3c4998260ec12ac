"""Telling an outage from a failing delivery: the sender's pause, and its probes' verdict.

An outage is not a delivery's fault. When transport-level failures (refused connections,
timeouts, 5xx) follow one another across ``outage_after`` different chats with no success
between them, the sender stops claiming rows and probes Telegram with ``getMe`` (backoff
``probe_first`` .. ``probe_max`` seconds). If a probe fails too, the API is unreachable:
the attempts those failures cost are given back, and sending resumes when a probe answers.
If the first probe answers, the API is up and only sends fail: the attempts stand, so a
send that always fails still gives up after ``max_attempts``.

The pause is published in the sender's lease (since when, and why), where ``/status`` and
``corrbot health`` read it.
"""

from __future__ import annotations

import logging

from bot.core.clock import Clock
from bot.core.sender_lease import SenderLease
from bot.core.store.outbox import Due, Outbox
from bot.logsetup import redact

__all__ = ["OutageWatch", "brief"]

log = logging.getLogger(__name__)


class OutageWatch:
    """The streak of transport failures since Telegram last answered, and the verdict."""

    def __init__(
        self,
        lease: SenderLease,
        outbox: Outbox,
        clock: Clock,
        *,
        outage_after: int = 5,
        probe_first: float = 1.0,
        probe_max: float = 60.0,
    ) -> None:
        self._lease = lease
        self._outbox = outbox
        self._now = clock
        self._outage_after = max(1, outage_after)
        self._probe_first = probe_first
        self._probe_max = max(probe_first, probe_max)
        #: How long to wait before the next probe (doubles while probes fail).
        self.probe_delay = probe_first
        self._streak_chats: set[int] = set()  # chats that failed since the last success
        self._suspects: set[int] = set()  # rows whose counted attempt failed in the streak
        self._deferred: set[int] = set()  # rows whose give-up waited once for the verdict
        self._outage = False  # a probe failed too: Telegram cannot be reached

    @property
    def paused(self) -> bool:
        """Whether sending is paused because Telegram seems unreachable."""
        return self._lease.paused_since is not None

    def transport_failed(self, item: Due, exc: Exception) -> bool:
        """Note a transport failure; ``True`` if Telegram is known unreachable (not counted)."""
        if self._outage:
            return True
        self._streak_chats.add(item.chat_id)
        self._suspects.add(item.id)
        if not self.paused and len(self._streak_chats) >= self._outage_after:
            self._lease.paused_since = self._now()
            self._lease.pause_reason = brief(exc)
            self.probe_delay = self._probe_first
            self._lease.publish()
            log.warning(
                "%d chats in a row failed to reach Telegram (%s); sending paused, probing",
                len(self._streak_chats),
                self._lease.pause_reason,
                extra={"event": "sender.paused"},
            )
        return False

    def defer_give_up(self, item: Due) -> bool:
        """Whether a delivery out of attempts should wait once for the probes' verdict.

        Other chats failing alike may mean an outage, whose attempts are given back.
        """
        if len(self._streak_chats) > 1 and item.id not in self._deferred:
            self._deferred.add(item.id)
            return True
        return False

    def reached(self) -> bool:
        """Telegram answered: the streak is over; ``True`` if that ended a pause."""
        self._streak_chats.clear()
        self._suspects.clear()
        if not self.paused:
            return False
        since = self._lease.paused_since
        self._lease.paused_since = None
        self._lease.pause_reason = None
        self._outage = False
        self._lease.publish()
        paused_for = (self._now() - since).total_seconds() if since else 0.0
        log.info(
            "Telegram answers again; sending resumed after %.0f s",
            paused_for,
            extra={"event": "sender.resumed"},
        )
        return True

    def unreachable(self, exc: Exception) -> None:
        """A probe failed as well: the failures were the outage's, their attempts go back."""
        self.probe_delay = min(self.probe_delay * 2, self._probe_max)
        if self._outage:
            return
        self._outage = True
        given_back = self._outbox.refund(self._suspects, now=self._now())
        self._suspects.clear()
        self._lease.pause_reason = f"Telegram unreachable: {brief(exc)}"
        self._lease.publish()
        log.warning(
            "Telegram cannot be reached (%s); %d attempts given back, probing until it answers",
            self._lease.pause_reason,
            given_back,
            extra={"event": "sender.outage"},
        )


def brief(exc: Exception) -> str:
    """One short line for the published state: the error, without an HTML error page."""
    text = str(exc).split(". Parsing the server response", 1)[0]
    return redact(f"{type(exc).__name__}: {text}")[:160]
