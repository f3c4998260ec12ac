"""`corrbot run` as a process: the token rule, start-up, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.store import Store
from tests.fakes.bot_harness import START, spawn_corrbot, until
from tests.fakes.telegram_api import TOKEN, FakeTelegram

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


def _events(log: str) -> list[str]:
    """The ``event`` of every stderr line; each line must be one JSON object."""
    events = []
    for line in log.splitlines():
        if line.strip():
            entry = json.loads(line)  # a line that is not JSON fails the test here
            events.append(str(entry["event"]))
    return events


def _write_ahead_log_left(store_path: Path) -> bool:
    return Path(f"{store_path}-wal").exists()


def _meta(store_path: Path, key: str) -> str | None:
    """A meta value the running bot wrote, read without touching its store's schema."""
    try:
        conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:  # not created yet
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_run_stops_cleanly_on_a_signal(tmp_path: Path, stop_signal: signal.Signals) -> None:
    """The bot polls, beats, catches up, logs JSON lines; a signal stops it with 0, store intact."""
    store_path = tmp_path / "bot.sqlite3"
    async with FakeTelegram() as server:
        config = tmp_path / "config.yaml"
        config.write_text(
            "data: {crypto_source: synthetic, equity_source: synthetic, history_sessions: 200}\n"
            f"telegram: {{api_base_url: '{server.base_url}', poll_timeout_seconds: 1}}\n"
            "storage: {path: bot.sqlite3}\nlogging: {format: json}\n"
        )
        process = await spawn_corrbot("run", "--config", str(config), at=START)
        await until(lambda: server.calls("getUpdates") or process.returncode is not None, 30)
        await until(lambda: server.calls("setMyCommands"), 30, "the command menu")
        await until(lambda: _meta(store_path, "heartbeat"), 30, "the first heartbeat")
        await until(lambda: _meta(store_path, "last_run"), 60, "the catch-up run")
        process.send_signal(stop_signal)
        _, err = await asyncio.wait_for(process.communicate(), timeout=30)
    log = err.decode()
    assert process.returncode == 0, log[-2000:]
    events = _events(log)
    assert {"job.started", "job.finished"} <= set(events), "START's missed run was caught up"
    assert "Traceback" not in log
    assert TOKEN.split(":", 1)[1] not in log
    assert not _write_ahead_log_left(store_path), "closed connections leave no write-ahead log"
    with Store.open(store_path) as store:
        assert store.meta.heartbeat() is not None
