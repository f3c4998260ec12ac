"""What an administrator's ``/status`` shows, gathered from the store and the calendar.

The core returns the facts; :mod:`bot.present.status` words them. Nothing here waits on the
network: every figure is what the last run, the sender and the price cache left behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.models import SymbolStatus
from bot.core.schedule import DailySchedule
from bot.core.sender_lease import SenderState, read_sender_state
from bot.core.service import CorrService
from bot.core.store.meta import LastRun
from bot.core.store.outbox import OutboxCounts

__all__ = ["StatusReport", "status_report"]


@dataclass(frozen=True)
class StatusReport:
    """Subscribers, runs, deliveries, the sender and the data, as of ``now``."""

    version: str
    now: datetime
    subscribers: int
    last_run: LastRun | None
    last_success: LastRun | None
    next_run: datetime
    outbox: OutboxCounts
    sender: SenderState | None
    data: tuple[SymbolStatus, ...]


def status_report(service: CorrService, schedule: DailySchedule, version: str) -> StatusReport:
    """The report as of the service's clock (reads the store; call it off the event loop)."""
    now = service.now()
    store = service.store
    return StatusReport(
        version=version,
        now=now,
        subscribers=store.subscribers.count_active(),
        last_run=store.meta.last_run(),
        last_success=store.meta.last_success(),
        next_run=schedule.next_run(now),
        outbox=store.outbox.counts(),
        sender=read_sender_state(store.meta),
        data=tuple(service.data_status()),
    )
