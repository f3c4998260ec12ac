"""`corrbot check`: the daily job once, for cron users; dry runs; a crash in mid-broadcast."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.compose import build_evaluator, build_market_data
from bot.config import load_config
from bot.core.calendar import nyse
from bot.core.sender_lease import SenderLease, read_sender_state
from bot.core.service import CorrService
from bot.core.store import Store
from tests.fakes.bot_harness import spawn_corrbot, until
from tests.fakes.clock import ProcessClock
from tests.fakes.market import write_csv_market
from tests.fakes.telegram_api import FakeTelegram

#: Wednesday 2026-12-02, 14:00 UTC: Tuesday's session and the crypto close after it are in.
AT = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


def _sessions(count: int) -> list[str]:
    """The last ``count`` sessions closed at :data:`AT`, by the calendar the code uses."""
    return [ts.date().isoformat() for ts in nyse().recent_closes(count, AT).index]


#: Sessions of the test market, and the first where BTC and PSCT move together: a year and
#: more of calm first, so the change test has its baseline.
SESSIONS, COUPLED_FROM = 400, 320


def _write_prices(folder: Path, sessions: list[str]) -> None:
    """Uncorrelated returns, then BTC and PSCT moving together from ``COUPLED_FROM`` on."""
    write_csv_market(folder, sessions, COUPLED_FROM)


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "data: {crypto_source: csv, equity_source: csv, csv_dir: prices, "
        f"history_sessions: {SESSIONS}}}\n"
        "storage: {path: corrbot.sqlite3}\n" + extra
    )
    return path


async def _warm_up_until(config_path: Path, day: str, chats: int) -> None:
    """Run the job as of ``day`` (state before the coupling) and subscribe some chats."""
    config = load_config(config_path)
    when = datetime.fromisoformat(day).replace(hour=23, tzinfo=UTC)
    with Store.open(config.storage.path) as store:
        market = build_market_data(config, store, lambda: when, show_progress=False)
        service = CorrService(store, market, build_evaluator(config), clock=lambda: when)
        await service.check_now()
        subscribers = store.subscribers
        for chat in range(1, chats + 1):
            subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=when)


async def test_dry_run_prints_what_would_be_sent_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run shows the catch-up alert and its audience, and leaves the store as it was."""
    sessions = _sessions(SESSIONS)
    _write_prices(tmp_path / "prices", sessions)
    config = _config(tmp_path)
    await _warm_up_until(config, sessions[COUPLED_FROM - 10], chats=2)
    with Store.open(tmp_path / "corrbot.sqlite3") as store:
        states_before = store.alerts.engine_states(30)
    with ProcessClock(AT):
        status = await asyncio.to_thread(main, ["check", "--dry-run", "--config", str(config)])
    out = capsys.readouterr().out
    assert "Dry run: data as of" in out
    assert "--- spike:BTC~PSCT:30:" in out
    assert "to 2 chat(s) ---" in out
    assert out.count("--- ") == 1, "one summary of the coupling, not its every step"
    assert "While the bot was offline, BTC started moving with PSCT" in out
    # warmed up at 23:00 UTC, before that day's crypto close: the session before was the last
    assert f"(last seen on {sessions[COUPLED_FROM - 11]})" in out
    with Store.open(tmp_path / "corrbot.sqlite3") as store:
        assert store.query("SELECT COUNT(*) FROM alerts")[0][0] == 0
        assert store.query("SELECT COUNT(*) FROM deliveries")[0][0] == 0
        assert store.alerts.engine_states(30) == states_before
    assert status == 0


def test_check_without_a_token_explains_how_to_get_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`corrbot check` (delivering) needs the token and says where it comes from."""
    assert main(["check", "--config", str(_config(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN is not set" in err
    assert "@BotFather" in err
    assert "corrbot demo` needs no token" in err


async def _run_check(config: Path) -> asyncio.subprocess.Process:
    return await spawn_corrbot("check", "--config", str(config), at=AT)


@pytest.mark.slow
async def test_sigkill_during_a_broadcast_then_restart_delivers_each_message_once(
    tmp_path: Path,
) -> None:
    """Killed mid-broadcast, the next run delivers the rest; only in-flight ones repeat."""
    chats, concurrency = 40, 2
    sessions = _sessions(SESSIONS)
    _write_prices(tmp_path / "prices", sessions)
    async with FakeTelegram() as server:
        server.latency = 0.05
        config = _config(
            tmp_path,
            f"telegram: {{api_base_url: '{server.base_url}'}}\n"
            f"delivery: {{concurrency: {concurrency}, messages_per_second: 20}}\n",
        )
        await _warm_up_until(config, sessions[COUPLED_FROM - 10], chats=chats)
        first = await _run_check(config)
        await until(lambda: len(server.sent) >= chats // 3, 60, "a third of the broadcast")
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert first.returncode == -signal.SIGKILL
        delivered_before_kill = len(server.sent)
        assert delivered_before_kill < chats, "the kill must land mid-broadcast"
        second = await _run_check(config)
        out, err = await asyncio.wait_for(second.communicate(), timeout=120)
        assert second.returncode == 0, err.decode()
    copies = Counter(message.chat_id for message in server.sent)
    assert set(copies) == set(range(1, chats + 1)), "every subscriber got the alert"
    duplicates = sum(n - 1 for n in copies.values())
    assert duplicates <= concurrency, f"at most the in-flight messages twice, got {duplicates}"
    assert max(copies.values()) <= 2
    with Store.open(tmp_path / "corrbot.sqlite3") as store:
        statuses = store.query("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
    assert dict(statuses) == {"sent": chats}
    assert b"deliveries: " in out


async def test_check_beside_a_running_bot_records_and_leaves_sending_to_it(
    tmp_path: Path,
) -> None:
    """Another live sender holds the store: check records the alert, sends nothing, says so."""
    sessions = _sessions(SESSIONS)
    _write_prices(tmp_path / "prices", sessions)
    async with FakeTelegram() as server:
        config = _config(tmp_path, f"telegram: {{api_base_url: '{server.base_url}'}}\n")
        await _warm_up_until(config, sessions[COUPLED_FROM - 10], chats=3)
        with Store.open(tmp_path / "corrbot.sqlite3") as store:
            running = SenderLease(
                store.meta, lambda: AT, holder="bothost:1:abcd", ttl=timedelta(hours=1)
            )
            assert running.acquire()
        check = await _run_check(config)
        out, err = await asyncio.wait_for(check.communicate(), timeout=120)
    assert check.returncode == 0, err.decode()[-2000:]
    assert "left to the running bot" in out.decode()
    assert server.calls("sendMessage") == []
    with Store.open(tmp_path / "corrbot.sqlite3") as store:
        statuses = store.query("SELECT status, COUNT(*) FROM deliveries GROUP BY status")
        state = read_sender_state(store.meta)
    assert dict(statuses) == {"pending": 3}, "recorded, waiting for the running bot"
    assert state is not None
    assert state.holder == "bothost:1:abcd"
