"""One sender per store: the lease in ``meta``, its expiry, and two senders side by side."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

from telegram.ext import ExtBot

from bot.compose import build_evaluator, build_market_data
from bot.core.sender_lease import SenderLease, read_sender_state
from bot.core.service import CorrService
from bot.core.store import Store
from bot.tg.delivery import Sender
from bot.tg.ratelimit import PacedRateLimiter
from tests.fakes.bot_harness import START, bot_config, until
from tests.fakes.clock import ManualClock
from tests.fakes.telegram_api import TOKEN, FakeTelegram
from tests.test_faults_telegram import TITLE, _record_alert

TTL = timedelta(seconds=30)


def _lease(store: Store, clock: ManualClock, holder: str) -> SenderLease:
    return SenderLease(store.meta, clock, holder=holder, ttl=TTL)


def test_a_live_lease_is_refused_to_another_holder(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        clock = ManualClock(START)
        first, second = _lease(store, clock, "a:1:x"), _lease(store, clock, "b:2:y")
        assert first.acquire()
        clock.advance(TTL - timedelta(seconds=1))
        assert not second.acquire()


def test_a_lease_not_renewed_for_its_ttl_is_taken_over(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        clock = ManualClock(START)
        first, second = _lease(store, clock, "a:1:x"), _lease(store, clock, "b:2:y")
        first.acquire()
        clock.advance(TTL)
        assert second.acquire()
        assert not first.renew(), "the old holder learns it lost the lease"


def test_renewing_keeps_the_lease_past_its_first_ttl(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        clock = ManualClock(START)
        first, second = _lease(store, clock, "a:1:x"), _lease(store, clock, "b:2:y")
        first.acquire()
        for _ in range(4):
            clock.advance(timedelta(seconds=20))
            assert first.renew()
        assert not second.acquire()


def test_a_released_lease_is_free_at_once(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        clock = ManualClock(START)
        first, second = _lease(store, clock, "a:1:x"), _lease(store, clock, "b:2:y")
        first.acquire()
        first.release()
        assert second.acquire()


def test_the_lease_of_a_dead_process_on_this_host_is_free_at_once(tmp_path: Path) -> None:
    """A killed holder here (its pid gone) does not block the next sender for the ttl."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    with Store.open(tmp_path / "s.db") as store:
        clock = ManualClock(START)

        gone = _lease(store, clock, f"{socket.gethostname()}:{dead.stdout.strip()}:x")
        gone.acquire()
        assert _lease(store, clock, "b:2:y").acquire()


def test_the_state_is_readable_from_the_store_by_anyone(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        clock = ManualClock(START)
        assert read_sender_state(store.meta) is None
        lease = _lease(store, clock, "a:1:x")
        lease.acquire()
        lease.paused_since, lease.pause_reason, lease.given_up = clock(), "Telegram unreachable", 3
        clock.advance(timedelta(seconds=5))
        lease.renew()
        state = read_sender_state(store.meta)
    assert state is not None
    assert (state.holder, state.renewed_at, state.paused_since) == ("a:1:x", clock(), START)
    assert (state.pause_reason, state.given_up) == ("Telegram unreachable", 3)
    assert state.live(clock() + timedelta(seconds=29))
    assert not state.live(clock() + TTL)


def test_an_unreadable_lease_row_counts_as_free(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store:
        store.meta.swap_lease(lambda _: "not json")
        assert read_sender_state(store.meta) is None
        assert _lease(store, ManualClock(START), "a:1:x").acquire()


# ---- two senders on one store --------------------------------------------------------------

CHATS = tuple(range(1, 31))
ALERTS = 3


async def test_a_drain_during_a_running_broadcast_duplicates_nothing(tmp_path: Path) -> None:
    """`corrbot check` drains while `run` broadcasts: every chat gets each alert once."""
    async with FakeTelegram(latency=0.05) as server:
        config = bot_config(tmp_path, server)
        clock = ManualClock(START)
        with Store.open(config.storage.path) as one, Store.open(config.storage.path) as two:
            services = [
                CorrService(
                    s, build_market_data(config, s, clock), build_evaluator(config), clock=clock
                )
                for s in (one, two)
            ]
            for chat in CHATS:
                services[0].subscribers.subscribe(
                    chat, kind="private", title="", thread_id=None, now=clock()
                )
            bots = [
                ExtBot(
                    TOKEN, base_url=server.base_url, rate_limiter=PacedRateLimiter(per_second=28)
                )
                for _ in services
            ]
            for api in bots:
                await api.initialize()
            running, checking = (
                Sender(api, service.store, service.now, concurrency=4, renew_every=0.2)
                for api, service in zip(bots, services, strict=True)
            )
            for day in range(ALERTS):
                _record_alert(one, clock(), day=START.date() + timedelta(days=day))
            task = asyncio.create_task(running.run())
            try:
                await until(lambda: len(server.sent) >= 5, 10, "the broadcast to start")
                for _ in range(3):
                    report = await checking.drain(within=0.3)
                    assert report.left_to == running.lease.holder
                await until(lambda: len(server.sent) >= ALERTS * len(CHATS), 20, "the broadcast")
                await asyncio.sleep(0.3)  # time for a duplicate to show
            finally:
                await running.stop(grace=2.0)
                await task
                for api in bots:
                    await api.shutdown()
                for service in services:
                    await service.close()
    copies = Counter(m.chat_id for m in server.sent if TITLE in str(m.text))
    assert copies == dict.fromkeys(CHATS, ALERTS), "each alert once to each chat"


async def test_a_second_run_waits_for_the_lease_and_takes_over_when_released(
    tmp_path: Path,
) -> None:
    """A waiting sender sends nothing while the first holds the store, then carries on."""
    async with FakeTelegram() as server:
        config = bot_config(tmp_path, server)
        clock = ManualClock(START)
        with Store.open(config.storage.path) as store:
            service = CorrService(
                store, build_market_data(config, store, clock), build_evaluator(config), clock=clock
            )
            service.subscribers.subscribe(1, kind="private", title="", thread_id=None, now=clock())
            first = _lease(store, clock, "first:1:x")
            first.acquire()
            _record_alert(store, clock())
            async with ExtBot(TOKEN, base_url=server.base_url) as api:
                second = Sender(api, service.store, service.now, renew_every=0.1)
                task = asyncio.create_task(second.run())
                await asyncio.sleep(0.5)
                sent_while_held = len(server.calls("sendMessage"))
                first.release()
                await until(lambda: server.sent, 5, "the second sender to take over")
                await second.stop(grace=1.0)
                await task
            await service.close()
    assert sent_while_held == 0
    assert len(server.sent) == 1


async def test_a_drain_beside_a_live_sender_sends_nothing_and_names_it(tmp_path: Path) -> None:
    """`corrbot check` beside `run`: its drain leaves the rows to the lease holder."""
    async with FakeTelegram() as server:
        config = bot_config(tmp_path, server)
        clock = ManualClock(START)
        with Store.open(config.storage.path) as store:
            service = CorrService(
                store, build_market_data(config, store, clock), build_evaluator(config), clock=clock
            )
            service.subscribers.subscribe(1, kind="private", title="", thread_id=None, now=clock())
            _lease(store, clock, "elsewhere:1:x").acquire()
            _record_alert(store, clock())
            async with ExtBot(TOKEN, base_url=server.base_url) as api:
                report = await Sender(api, service.store, service.now).drain(within=2.0)
            pending = store.query("SELECT status FROM deliveries")
            await service.close()
    assert report.left_to == "elsewhere:1:x"
    assert server.calls("sendMessage") == []
    assert pending == [("pending",)]
