"""The daily job as the running bot performs it: retries, admin notices, and /status.

The bot runs for real (``tests.fakes.bot_harness.running_bot``) on the synthetic market, doctored
where a test needs a feed that stopped publishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from bot.core.sources.base import FetchRequest, FetchResults, Observations
from bot.core.sources.synthetic import SyntheticSource
from tests.fakes.bot_harness import ADMIN, RunningBot, running_bot

_real_fetch = SyntheticSource.fetch
FROZEN = "stopped moving"


def _published_until(monkeypatch: pytest.MonkeyPatch, last: str) -> None:
    """The synthetic market stops publishing after ``last``, as a feed that froze."""

    async def fetch(self: SyntheticSource, requests: Sequence[FetchRequest]) -> FetchResults:
        results = dict(await _real_fetch(self, requests))
        for symbol, found in list(results.items()):
            if isinstance(found, Observations):
                kept = found.closes[found.closes.index <= pd.Timestamp(last, tz="UTC")]
                results[symbol] = Observations(symbol, kept, found.origin)
        return results

    monkeypatch.setattr(SyntheticSource, "fetch", fetch)


def _texts(bot: RunningBot, chat: int) -> list[str]:
    return [str(m.text) for m in bot.server.sent_to(chat)]


async def _status(bot: RunningBot) -> str:
    bot.server.send_command("/status", user_id=ADMIN)
    [reply] = await bot.server.wait_for_reply(ADMIN, timeout=15)
    return str(reply.text)


async def test_feeds_that_stopped_moving_are_told_to_the_admins_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three sessions without a new price: one notice naming the feeds; a rerun adds none."""
    _published_until(monkeypatch, "2024-05-30")  # 05-30, 05-31 and 06-03 never come
    async with running_bot(tmp_path, ready=False, schedule={"retry_for_minutes": 0}) as bot:
        await bot.server.wait_for_reply(ADMIN, count=2, timeout=30)
        bot.server.send_command("/runnow", user_id=ADMIN)
        await bot.server.wait_for_reply(ADMIN, count=2, timeout=30)
        notices = [t for t in _texts(bot, ADMIN) if FROZEN in t]
    assert len(notices) == 1
    assert "BTC: no new price since 2024-05-29, 3 sessions behind" in notices[0]
    assert "PSCT: no new price since 2024-05-29, 3 sessions behind" in notices[0]


async def test_status_never_calls_a_frozen_feed_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/status says how far behind each feed is and that it stopped moving."""
    _published_until(monkeypatch, "2024-05-30")
    async with running_bot(tmp_path, ready=False, schedule={"retry_for_minutes": 0}) as bot:
        await bot.server.wait_for_reply(ADMIN, count=2, timeout=30)
        status = await _status(bot)
    assert "BTC: synthetic, last 2024-05-29, 3 sessions behind: the feed stopped moving" in status
    assert "fresh" not in status


async def test_status_shows_a_running_sender_and_fresh_feeds(tmp_path: Path) -> None:
    """On a healthy bot /status says the sender runs and every feed is fresh."""
    async with running_bot(tmp_path) as bot:
        status = await _status(bot)
    assert "Sender: running" in status
    assert "BTC: synthetic, last 2024-06-03, fresh" in status
