"""`corrbot run` as a process: the token rule, start-up, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bot.cli import main
from tests.bot_harness import spawn_corrbot, until
from tests.fake_telegram import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent


def test_run_without_a_token_exits_2_and_says_how_to_get_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No TELEGRAM_BOT_TOKEN: exit 2, pointing at BotFather and at the token-free demo."""
    config = tmp_path / "config.yaml"
    config.write_text("storage: {path: bot.sqlite3}\n")
    assert main(["run", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN is not set" in err
    assert "@BotFather" in err
    assert "`corrbot demo` needs no token" in err


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_run_stops_cleanly_on_a_signal(tmp_path: Path, stop_signal: signal.Signals) -> None:
    """The bot polls, writes its heartbeat, and on SIGTERM/SIGINT exits 0 with the store closed."""
    async with FakeTelegram() as server:
        config = tmp_path / "config.yaml"
        config.write_text(
            "data: {crypto_source: synthetic, equity_source: synthetic, history_sessions: 200}\n"
            f"telegram: {{api_base_url: '{server.base_url}', poll_timeout_seconds: 1}}\n"
            "storage: {path: bot.sqlite3}\nlogging: {format: json}\n"
        )
        process = await spawn_corrbot("run", "--config", str(config))
        await until(lambda: server.calls("getUpdates") or process.returncode is not None, 30)
        await until(lambda: server.calls("setMyCommands"), 30, "the command menu")
        await asyncio.sleep(0.5)
        process.send_signal(stop_signal)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()[-2000:]
    log = err.decode()
    assert (
        '"event": "job.started"' in log or '"event": "metrics.started"' in log or log.count("{") > 0
    )
    assert TOKEN.split(":", 1)[1] not in log
    assert (tmp_path / "bot.sqlite3").exists()
