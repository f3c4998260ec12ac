"""The facts behind /status: gathered from the store and the calendar as of the service's clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from bot.compose import Services, build
from bot.config import Config
from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.sender_lease import SenderLease
from bot.core.status import StatusReport, status_report
from bot.core.store.meta import LastRun
from bot.core.store.outbox import OutboxCounts

#: Friday 2024-06-07, 22:00 UTC = 18:00 New York: that day's 17:30 run is past.
NOW = datetime(2024, 6, 7, 22, 0, tzinfo=UTC)
VERSION = "9.8.7"


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    """The synthetic market (never fetched here) over a fresh store, the clock at :data:`NOW`."""
    config = Config.model_validate(
        {
            "data": {
                "crypto_source": "synthetic",
                "equity_source": "synthetic",
                "history_sessions": 60,
            },
            "storage": {"path": tmp_path / "bot.sqlite3"},
        }
    )
    async with build(config, lambda: NOW, show_progress=False) as built:
        yield built


def _report(services: Services) -> StatusReport:
    return status_report(services.service, services.schedule, VERSION)


def _subscribe(services: Services, *chats: int) -> None:
    for chat in chats:
        services.store.subscribers.subscribe(
            chat, kind="private", title="", thread_id=None, now=NOW
        )


def test_subscribers_are_the_active_chats(services: Services) -> None:
    """Chats that stopped (or blocked the bot) are not counted."""
    _subscribe(services, 1, 2, 3)
    services.store.subscribers.deactivate(2, reason="forbidden", now=NOW)
    assert _report(services).subscribers == 2


def test_the_last_run_and_the_last_success_come_from_the_store(services: Services) -> None:
    """A failed run after a good one: the report shows both, each as recorded."""
    good = LastRun(NOW - timedelta(days=1), NOW - timedelta(days=1), True, 2, date(2024, 6, 6))
    bad = LastRun(NOW - timedelta(hours=1), NOW, False, 0, None, ["BTC: fetch_failed"])
    services.store.meta.record_run(good)
    services.store.meta.record_run(bad)
    report = _report(services)
    assert (report.last_run, report.last_success) == (bad, good)


def test_before_any_run_the_report_has_none(services: Services) -> None:
    """A fresh store has nothing on record: no runs, no sender, an empty outbox."""
    report = _report(services)
    assert (report.last_run, report.last_success, report.sender) == (None, None, None)
    assert report.outbox == OutboxCounts()


def test_the_next_run_is_the_first_scheduled_after_the_services_clock(
    services: Services,
) -> None:
    """Friday evening after the run, the next one is Monday 17:30 New York; now is the clock."""
    report = _report(services)
    assert report.now == NOW
    assert report.next_run == datetime(2024, 6, 10, 17, 30, tzinfo=ZoneInfo("America/New_York"))


def test_the_outbox_counts_deliveries_by_status(services: Services) -> None:
    """Three deliveries of one alert: one sent, one dropped, one pending."""
    _subscribe(services, 1, 2, 3)
    alert = Alert(AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 6, 7), 0.7, 0.1, 3.3)
    payload = Message(title="spike", lead="lead", footer="corrbot").to_json()
    services.store.record_check([(alert, payload)], window=30, states={}, snapshot=None, now=NOW)
    outbox = services.store.outbox
    first, second, _ = outbox.due(NOW)
    assert outbox.claim(first.id)
    outbox.sent(first.id, message_id=10, now=NOW)
    outbox.drop(second.id, error="forbidden")
    assert _report(services).outbox == OutboxCounts(pending=1, sent=1, dropped=1)


def test_the_sender_state_is_the_stored_lease(services: Services) -> None:
    """The sender holding the store, and its pause, as its lease row records them."""
    lease = SenderLease(services.store.meta, lambda: NOW, holder="bothost:1:abcd")
    assert lease.acquire()
    lease.paused_since = NOW - timedelta(minutes=3)
    lease.pause_reason = "NetworkError: connection refused"
    lease.publish()
    sender = _report(services).sender
    assert sender is not None
    assert (sender.holder, sender.live(NOW)) == ("bothost:1:abcd", True)
    assert (sender.paused_since, sender.pause_reason) == (
        NOW - timedelta(minutes=3),
        "NetworkError: connection refused",
    )


def test_the_data_is_each_symbols_status_from_the_price_cache(services: Services) -> None:
    """One line per configured symbol; a cached close shows as that symbol's last session."""
    closes = services.market.window()[-1:]
    services.store.prices.upsert(
        "PSCT", pd.Series([42.0], index=pd.DatetimeIndex(closes)), source="test", fetched_at=NOW
    )
    data = {status.asset.symbol: status for status in _report(services).data}
    assert set(data) == {asset.symbol for asset in services.market.assets}
    assert (data["PSCT"].rows, data["PSCT"].last_session) == (1, date(2024, 6, 7))
    assert data["QQQ"].rows == 0
