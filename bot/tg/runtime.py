"""What the handlers and jobs share, kept in ``application.bot_data["runtime"]``."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.core.regimes import RegimeBands
from bot.core.service import CorrService
from bot.core.store import Store
from bot.metrics import Metrics
from bot.scheduler import DailySchedule

if TYPE_CHECKING:
    from telegram.ext import CallbackContext

    from bot.tg.delivery import Sender

__all__ = ["RUNTIME_KEY", "Runtime", "runtime"]

RUNTIME_KEY = "runtime"


@dataclass
class Runtime:
    """Services created at start-up (post_init) and closed at shutdown (post_shutdown)."""

    config: Config
    service: CorrService
    schedule: DailySchedule
    metrics: Metrics = field(default_factory=Metrics)
    store: Store | None = None
    sender: Sender | None = None
    sender_task: asyncio.Task[None] | None = None
    version: str = ""
    #: Rendered charts by what they draw (see ``handlers.chart``), least recently used first.
    charts: OrderedDict[tuple[object, ...], bytes] = field(default_factory=OrderedDict)
    job_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    retry_until: dict[str, Any] = field(default_factory=dict)
    #: When getUpdates last answered normally (the heartbeat stores it for `corrbot health`).
    polled_at: dt.datetime | None = None

    @property
    def bands(self) -> RegimeBands:
        """The configured regime bands."""
        return self.config.alerts.regime.settings().bands

    def is_admin(self, user_id: int | None) -> bool:
        """Admins are Telegram *user* ids from ``telegram.admins``; nobody by default."""
        return user_id is not None and user_id in self.config.telegram.admins


def runtime(context: CallbackContext[Any, Any, Any, Any]) -> Runtime:
    """The runtime stored in ``bot_data``."""
    value = context.bot_data[RUNTIME_KEY]
    assert isinstance(value, Runtime)
    return value
