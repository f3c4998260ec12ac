"""One sender per store: an exclusive, expiring lease kept in the store's ``meta`` table.

Two processes draining one outbox would each turn the other's in-flight rows back to
``pending`` and send them again. So a sender first takes the lease (a compare-and-set in
one write-locking transaction), renews it every few seconds while it sends, and gives it
back when it stops. A holder that stops renewing (it crashed, or its loop died) loses the
lease after ``ttl``, so the next sender takes over instead of waiting for ever; a holder
on this host whose process is gone loses it at once.

The same row carries what ``/status`` and ``corrbot health`` need to know about the
sender (running, paused since when and why, deliveries given up): it is written by the
one process that sends and read by any other from the store (:func:`read_sender_state`).
The compare-and-set itself is :meth:`bot.core.store.meta.Meta.swap_lease`.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta

from bot.core.clock import Clock
from bot.core.errors import StoreError
from bot.core.store.meta import Meta

__all__ = ["SenderLease", "SenderState", "read_sender_state"]

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class SenderState:
    """The sender as its lease row records it.

    ``renewed_at`` is the sender's heartbeat: health can call a sender dead when it is
    older than the lease's lifetime (:meth:`live`). ``given_up`` counts the deliveries
    this holder settled as failed for good.
    """

    holder: str
    acquired_at: datetime
    renewed_at: datetime
    expires_at: datetime
    paused_since: datetime | None = None
    pause_reason: str | None = None
    given_up: int = 0
    released: bool = False

    def live(self, now: datetime) -> bool:
        """Whether a sender holds the store now (renewed recently and not released)."""
        return not self.released and now < self.expires_at

    @property
    def paused(self) -> bool:
        """Whether the sender stopped sending because Telegram cannot be reached."""
        return self.paused_since is not None

    def to_json(self) -> str:
        """The lease row's value."""
        data = asdict(self)
        for name in ("acquired_at", "renewed_at", "expires_at", "paused_since"):
            value = data[name]
            data[name] = None if value is None else value.isoformat()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> SenderState:
        """Inverse of :meth:`to_json`; raises ``ValueError`` on anything else."""
        try:
            data = json.loads(text)
            paused = data.get("paused_since")
            reason = data.get("pause_reason")
            return cls(
                holder=str(data["holder"]),
                acquired_at=datetime.fromisoformat(data["acquired_at"]),
                renewed_at=datetime.fromisoformat(data["renewed_at"]),
                expires_at=datetime.fromisoformat(data["expires_at"]),
                paused_since=None if paused is None else datetime.fromisoformat(paused),
                pause_reason=None if reason is None else str(reason),
                given_up=int(data.get("given_up", 0)),
                released=bool(data.get("released", False)),
            )
        except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a sender lease: {exc}") from None


def read_sender_state(meta: Meta) -> SenderState | None:
    """The sender's state as last written, or ``None`` if no sender ever ran (or unreadable).

    Call :meth:`SenderState.live` with the current time to know whether it still runs.
    """
    text = meta.lease()
    if text is None:
        return None
    try:
        return SenderState.from_json(text)
    except ValueError:
        log.warning("the sender lease in the store is unreadable; treating it as free")
        return None


def new_holder_id() -> str:
    """hostname+pid+random: unique even for two processes with one pid in two containers."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class SenderLease:
    """This process's claim on the store's lease; see the module docstring.

    The pause and give-up fields are this holder's own and are written with every
    :meth:`renew`, so they reach readers within one renewal.
    """

    def __init__(
        self, meta: Meta, clock: Clock, *, holder: str | None = None, ttl: timedelta = DEFAULT_TTL
    ) -> None:
        self._meta = meta
        self._clock = clock
        self.holder = holder or new_holder_id()
        self.ttl = ttl
        self.paused_since: datetime | None = None
        self.pause_reason: str | None = None
        self.given_up = 0
        self._acquired_at: datetime | None = None

    @property
    def held(self) -> bool:
        """Whether the last acquire/renew succeeded and nothing was released since."""
        return self._acquired_at is not None

    def current(self) -> SenderState | None:
        """The lease row as stored now (whoever holds it)."""
        return read_sender_state(self._meta)

    def acquire(self) -> bool:
        """Take the lease if it is free, expired, released or already ours; ``True`` if taken."""
        return self._write(take=True)

    def renew(self) -> bool:
        """Extend our lease and publish our state; ``False`` if it is no longer ours."""
        return self._write(take=False)

    def publish(self) -> None:
        """Write this holder's state now (a pause, a give-up), not at the next renewal.

        A store that cannot take it is only logged: the next renewal carries the state.
        """
        try:
            self.renew()
        except StoreError as exc:
            log.warning("cannot record the sender state: %s", exc)

    def release(self) -> None:
        """Give the lease back (if still ours) so the next sender need not wait for expiry."""
        if self._acquired_at is None:
            return
        now = self._clock()
        released = replace(self._state(now), expires_at=now, released=True).to_json()

        def give_back(stored: str | None) -> str | None:
            state = _parse(stored)
            return released if state is not None and state.holder == self.holder else None

        self._meta.swap_lease(give_back)
        self._acquired_at = None

    def _state(self, now: datetime) -> SenderState:
        return SenderState(
            holder=self.holder,
            acquired_at=self._acquired_at or now,
            renewed_at=now,
            expires_at=now + self.ttl,
            paused_since=self.paused_since,
            pause_reason=self.pause_reason,
            given_up=self.given_up,
        )

    def _write(self, *, take: bool) -> bool:
        """The compare-and-set: read the row and write ours in one immediate transaction."""
        now = self._clock()

        def claim(stored: str | None) -> str | None:
            state = _parse(stored)
            ours = state is not None and state.holder == self.holder and not state.released
            if not ours:
                free = state is None or not state.live(now) or _dead_here(state.holder)
                if not (take and free):
                    self._acquired_at = None
                    return None
                self._acquired_at = now
            elif self._acquired_at is None:
                self._acquired_at = state.acquired_at if state is not None else now
            return self._state(now).to_json()

        return self._meta.swap_lease(claim)


def _dead_here(holder: str) -> bool:
    """Whether ``holder`` was a process of this host that no longer exists.

    A killed sender's lease would otherwise block the next one (``corrbot check`` right
    after a crash, say) until it expires. Another host's holder, or a pid that exists
    (perhaps reused), is left to expire: waiting is the safe side.
    """
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # this process's own other lease (a second Sender): alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _parse(text: str | None) -> SenderState | None:
    if text is None:
        return None
    try:
        return SenderState.from_json(text)
    except ValueError:
        return None  # an unreadable lease is no lease: taking it over beats never sending
