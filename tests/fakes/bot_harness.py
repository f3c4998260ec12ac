"""Runs the real bot (``run_bot``) against the fake Bot API server, for integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.store import Store
from bot.tg.app import run_bot
from tests.fakes.clock import ProcessClock
from tests.fakes.telegram_api import TOKEN, FakeTelegram

ADMIN = 4242
#: Monday 2024-06-03, 22:30 UTC = 18:30 New York: one hour after that session's 17:30 run,
#: which the bot finds missed at start-up and catches up.
START = datetime(2024, 6, 3, 22, 30, tzinfo=UTC)
#: How far the harness moves the clock once the bot polls: past the catch-up job (due one
#: second after start-up) and the first heartbeat (due at 0.1 s, run if at most a second
#: late), which the frozen clock would never reach.
_FIRST_JOBS = timedelta(seconds=1.05)


def bot_config(tmp_path: Path, server: FakeTelegram, **sections: Any) -> Config:
    """Synthetic market, the fake server, one admin, a store in ``tmp_path``."""
    raw: dict[str, Any] = {
        "data": {
            "crypto_source": "synthetic",
            "equity_source": "synthetic",
            "history_sessions": 300,
        },
        "telegram": {"api_base_url": server.base_url, "admins": [ADMIN], "poll_timeout_seconds": 1},
        "delivery": {"messages_per_second": 28, "max_attempts": 4},
        "storage": {"path": str(tmp_path / "bot.sqlite3")},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return Config.model_validate(raw)


async def until(predicate: Callable[[], Any], within: float = 10.0, what: str = "") -> Any:
    """Poll ``predicate`` until it is truthy; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or predicate}")


@dataclass
class RunningBot:
    """A bot running in the test's event loop, and ways to look into its store."""

    server: FakeTelegram
    config: Config
    clock: ProcessClock
    stop: asyncio.Event
    task: asyncio.Task[int]
    _store: Store | None = field(default=None, repr=False)

    @property
    def store(self) -> Store:
        """A second connection to the bot's store (WAL lets both work)."""
        if self._store is None:
            self._store = Store.open(self.config.storage.path)
        return self._store

    def queue_alert(self, key_day: date, kind: AlertKind = AlertKind.SPIKE) -> None:
        """Record an alert as the daily job would, with deliveries for eligible chats."""
        alert = Alert(kind, Pair("BTC", "PSCT"), 30, key_day, 0.71, 0.12, 3.3, "linked", "linked")
        message = Message(title=f"{alert.pair} correlation spike", lead="Test alert.", footer="x")
        self.store.record_check(
            [(alert, message.to_json())],
            window=30,
            states={},
            snapshot=None,
            now=self.clock(),
        )

    async def finish(self) -> int:
        """Stop the bot as SIGTERM would and return its exit status."""
        self.stop.set()
        status = await asyncio.wait_for(self.task, timeout=30)
        if self._store is not None:
            self._store.close()
        return status


@contextlib.asynccontextmanager
async def running_bot(
    tmp_path: Path, *, ready: bool = True, server: FakeTelegram | None = None, **sections: Any
) -> AsyncIterator[RunningBot]:
    """Start the fake server and the bot; with ``ready`` wait for the first computation.

    The whole process runs on a :class:`ProcessClock` frozen at :data:`START`, so the bot
    (on its production clock) and the JobQueue agree on the time, and it moves only when
    the test moves it (``bot.clock.advance``).
    """
    own_server = server is None
    fake = server or FakeTelegram()
    if own_server:
        await fake.start()
    try:
        with ProcessClock(START) as clock:
            config = bot_config(tmp_path, fake, **sections)
            stop = asyncio.Event()
            task = asyncio.create_task(run_bot(config, TOKEN, stop=stop))
            running = RunningBot(fake, config, clock, stop, task)
            await until(lambda: fake.calls("getUpdates") or task.done(), 15, "the first poll")
            clock.advance(_FIRST_JOBS)
            try:
                if ready:
                    await until(
                        lambda: running.store.meta.snapshot() or task.done(),
                        30,
                        "the catch-up run",
                    )
                yield running
            finally:
                if not task.done():
                    await running.finish()
    finally:
        if own_server:
            await fake.stop()


ROOT = Path(__file__).resolve().parents[2]  # the checkout: tests/fakes/ is two below it


def record_daily_retries(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """Every time a retry of the daily job is scheduled, in order (the job still runs).

    APScheduler would wait real minutes for the retry, so tests check it was scheduled, and
    when, instead of waiting for it.
    """
    from telegram.ext import JobQueue

    retries: list[datetime] = []
    real_run_once = JobQueue.run_once

    def run_once(self: JobQueue, callback: Any, when: Any, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("name") == "daily-retry":
            retries.append(when)
        return real_run_once(self, callback, when, *args, **kwargs)

    monkeypatch.setattr(JobQueue, "run_once", run_once)
    return retries


async def spawn_corrbot(
    *args: str,
    at: datetime,
    env: Mapping[str, str] | None = None,
    stderr: int = asyncio.subprocess.PIPE,
) -> asyncio.subprocess.Process:
    """``python -m bot ARGS`` from the repository root, as a user runs it, output piped.

    The process's clock starts at ``at`` and runs from there (:mod:`tests.fakes.clocked`),
    so what it finds due or stale never depends on when the suite runs. ``env`` defaults to
    this process's environment with the test token set; pass
    ``stderr=asyncio.subprocess.STDOUT`` to read both streams as one.
    """
    if env is None:
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
    env = {**env, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.clocked",
        at.isoformat(),
        *args,
        cwd=ROOT,
        env=dict(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
    )
