"""The Application as it runs: its exit status, and the token kept out of its logs."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from bot.core.models import AlertKind
from bot.tg.app import EXIT_CONFLICT
from tests.fakes.bot_harness import running_bot, until
from tests.fakes.telegram_api import TOKEN

USER = 1001


async def test_conflict_stops_the_bot_with_a_clear_status(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A second instance polling the same token makes this one exit with EXIT_CONFLICT."""
    async with running_bot(tmp_path, ready=False) as bot:
        bot.server.conflict = True
        status = await __import__("asyncio").wait_for(bot.task, timeout=20)
    assert status == EXIT_CONFLICT
    assert "another instance is polling this bot token" in caplog.text


async def test_token_never_appears_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At DEBUG, through requests, failures and deliveries, no log line holds the token."""
    caplog.set_level(logging.DEBUG)
    async with running_bot(tmp_path) as bot:
        bot.server.send_command("/start", chat_id=USER, user_id=USER)
        await bot.server.wait_for_reply(USER)
        bot.server.error_rate = 1.0
        bot.queue_alert(date(2024, 6, 3), AlertKind.REGIME)
        await until(lambda: bot.store.query("SELECT attempts FROM deliveries")[0][0] >= 1, 15)
        bot.server.error_rate = 0.0
    assert caplog.records, "the run must have logged something"
    assert "/bot" in caplog.text or "sendMessage" in caplog.text
    secret = TOKEN.split(":", 1)[1]
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()
