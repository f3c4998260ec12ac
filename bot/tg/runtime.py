"""What the handlers and jobs share, kept in ``application.bot_data["runtime"]``."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.compose import Services, regime_bands
from bot.config import Config
from bot.core.regimes import RegimeBands
from bot.core.schedule import DailySchedule
from bot.core.service import CorrService
from bot.core.store import Store
from bot.metrics import Metrics

if TYPE_CHECKING:
    from telegram.ext import CallbackContext

    from bot.tg.delivery import Sender

__all__ = ["RUNTIME_KEY", "Runtime", "runtime"]

RUNTIME_KEY = "runtime"


@dataclass
class Runtime:
    """The services built at start-up (post_init), and what the running bot adds to them.

    The services are closed at shutdown (post_shutdown); the sender runs as a task.
    """

    services: Services
    version: str
    sender: Sender | None = None
    sender_task: asyncio.Task[None] | None = None
    #: Rendered charts by what they draw (see ``handlers.chart``), least recently used first.
    charts: OrderedDict[tuple[object, ...], bytes] = field(default_factory=OrderedDict)
    job_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: When getUpdates last answered normally (the heartbeat stores it for `corrbot health`).
    polled_at: dt.datetime | None = None

    @property
    def config(self) -> Config:
        """The configuration the services were built from."""
        return self.services.config

    @property
    def service(self) -> CorrService:
        """The daily job and the read side of the bot."""
        return self.services.service

    @property
    def store(self) -> Store:
        """Where everything is kept."""
        return self.services.store

    @property
    def schedule(self) -> DailySchedule:
        """When the daily job runs."""
        return self.services.schedule

    @property
    def metrics(self) -> Metrics:
        """The Prometheus metrics (served only when ``metrics.port`` is set)."""
        return self.services.metrics

    @property
    def bands(self) -> RegimeBands:
        """The configured regime bands."""
        return regime_bands(self.config)

    def is_admin(self, user_id: int | None) -> bool:
        """Admins are Telegram *user* ids from ``telegram.admins``; nobody by default."""
        return user_id is not None and user_id in self.config.telegram.admins


def runtime(context: CallbackContext[Any, Any, Any, Any]) -> Runtime:
    """The runtime stored in ``bot_data``."""
    value = context.bot_data[RUNTIME_KEY]
    assert isinstance(value, Runtime)
    return value
