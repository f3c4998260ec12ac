"""deliver_once, `corrbot check`'s delivery pass: what is due goes out, a bad token is named.

The pass runs against the loopback fake Bot API, over services built from the configuration
as the command builds them, with one alert queued to two chats.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.compose import Services, build
from bot.core.errors import ConfigError, CorrbotError
from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.sender_lease import SenderLease
from bot.tg.oneshot import deliver_once
from tests.fakes.bot_harness import START, bot_config
from tests.fakes.clock import ManualClock
from tests.fakes.telegram_api import TOKEN, FakeTelegram

CHATS = (1, 2)
TITLE = "BTC~PSCT correlation spike"
#: The only token the fake accepts in the tests of a rejected one.
OTHER_BOTS_TOKEN = "999999:another-token-entirely"


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def services(tmp_path: Path, server: FakeTelegram) -> AsyncIterator[Services]:
    """The configured services on a clock standing at START, the alert queued to CHATS."""
    async with build(bot_config(tmp_path, server), ManualClock(START)) as built:
        for chat in CHATS:
            built.store.subscribers.subscribe(
                chat, kind="private", title="", thread_id=None, now=START
            )
        alert = Alert(AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 6, 3), 0.7, 0.1, 3.3)
        message = Message(title=TITLE, lead="Test alert.", footer="x")
        built.store.record_check(
            [(alert, message.to_json())], window=30, states={}, snapshot=None, now=START
        )
        yield built


def _statuses(services: Services) -> dict[int, str]:
    rows = services.store.query("SELECT chat_id, status FROM deliveries")
    return {int(str(chat)): str(status) for chat, status in rows}


async def test_what_is_due_is_delivered_and_reported(
    services: Services, server: FakeTelegram
) -> None:
    """Each chat gets the alert once; the rows are sent; the report counts them."""
    report = await deliver_once(services, TOKEN)
    assert (report.sent, report.failed, report.retried, report.left_to) == (2, 0, 0, None)
    assert _statuses(services) == {1: "sent", 2: "sent"}
    for chat in CHATS:
        assert [TITLE in str(m.text) for m in server.sent_to(chat)] == [True]


async def test_a_running_bots_lease_leaves_the_sending_to_it(
    services: Services, server: FakeTelegram
) -> None:
    """Another live sender holds the store: nothing is sent, the report names the holder."""
    running = SenderLease(
        services.store.meta, services.clock, holder="bothost:1:abcd", ttl=timedelta(hours=1)
    )
    assert running.acquire()
    report = await deliver_once(services, TOKEN)
    assert (report.sent, report.left_to) == (0, "bothost:1:abcd")
    assert server.calls("sendMessage") == []
    assert _statuses(services) == {1: "pending", 2: "pending"}


async def test_a_rejected_token_is_a_config_error_that_never_shows_it(
    services: Services, server: FakeTelegram
) -> None:
    """Telegram refuses the token (401): ConfigError, saying so, without the token in it."""
    server.token = OTHER_BOTS_TOKEN
    with pytest.raises(ConfigError) as info:
        await deliver_once(services, TOKEN)
    text = str(info.value)
    assert "Telegram rejected the bot token" in text
    assert TOKEN not in text
    assert TOKEN.split(":", 1)[1] not in text
    assert server.calls("sendMessage") == []


async def test_after_a_rejected_token_the_alerts_wait_in_the_store(
    services: Services, server: FakeTelegram
) -> None:
    """Nothing is settled by a bad token: every delivery is still pending, attempts untouched."""
    server.token = OTHER_BOTS_TOKEN
    with pytest.raises(ConfigError):
        await deliver_once(services, TOKEN)
    rows = services.store.query("SELECT status, attempts FROM deliveries")
    assert sorted((str(s), int(str(n))) for s, n in rows) == [("pending", 0), ("pending", 0)]


async def test_telegram_out_of_reach_is_one_readable_failure_and_the_alerts_wait(
    services: Services, server: FakeTelegram
) -> None:
    """A 502 at start: a CorrbotError (exit 1, one line) naming it; every delivery still pending."""
    server.gateway_down = 502
    with pytest.raises(CorrbotError) as info:
        await deliver_once(services, TOKEN)
    assert not isinstance(info.value, ConfigError)
    assert "Telegram could not be reached" in str(info.value)
    rows = services.store.query("SELECT status, attempts FROM deliveries")
    assert sorted((str(s), int(str(n))) for s, n in rows) == [("pending", 0), ("pending", 0)]
