"""The SQLite store failing: locked, full, corrupt, or written by a newer corrbot.

What must hold: every failure is a :class:`StoreError` whose message names the file and what
to do; a transaction that fails leaves nothing half-written (above all, never an alert
without its deliveries); the command line reports it in one line, without a traceback.
SQLite's own limits stand in for the real conditions: another connection holding
``BEGIN IMMEDIATE`` is a second process writing, and ``PRAGMA max_page_count`` on the
store's connection makes writes fail with ``SQLITE_FULL`` exactly as a full disk does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from telegram.ext import ExtBot

import bot.tg  # noqa: F401 - sets PTB_TIMEDELTA before any RetryAfter is built
from bot.cli import main
from bot.compose import build_evaluator, build_market_data
from bot.config import Config
from bot.core.errors import DiskFullError, StoreError
from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.service import CorrService
from bot.core.store import Store
from bot.core.store.meta import LastRun
from bot.core.store.migrations import MIGRATIONS
from bot.present.replies import STORE_FULL
from bot.tg.delivery import Sender
from bot.tg.ratelimit import PacedRateLimiter
from tests.fakes.bot_harness import ADMIN, record_daily_retries, running_bot, until
from tests.fakes.telegram_api import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2024, 6, 3, 23, 0, tzinfo=UTC)
HEADLINE = Pair("BTC", "PSCT")
USER = 1001


def _alerts(count: int) -> list[tuple[Alert, str]]:
    """``count`` spike alerts on consecutive May sessions, each with a long payload."""
    message = Message(title="BTC~PSCT correlation spike", lead="x" * 800, footer="corrbot")
    return [
        (
            Alert(AlertKind.SPIKE, HEADLINE, 30, date(2024, 5, day), 0.7, 0.1, 3.3, None, None),
            message.to_json(),
        )
        for day in range(1, count + 1)
    ]


def _subscribe(store: Store, chats: int) -> None:
    subscribers = store.subscribers
    for chat in range(1, chats + 1):
        subscribers.subscribe(chat, kind="private", title="", thread_id=None, now=NOW)


def _counts(store: Store) -> dict[str, int]:
    """Rows per table that a run writes."""
    tables = ("alerts", "outbound", "deliveries", "engine_state", "prices", "fetch_log", "meta")
    return {table: int(str(store.query(f"SELECT COUNT(*) FROM {table}")[0][0])) for table in tables}


def _orphans(store: Store) -> int:
    """Alerts recorded without one delivery per active chat (must always be zero)."""
    rows = store.query(
        "SELECT COUNT(*) FROM alerts a WHERE "
        "(SELECT COUNT(*) FROM outbound o JOIN deliveries d ON d.outbound_id = o.id "
        " WHERE o.alert_id = a.id) != (SELECT COUNT(*) FROM chats WHERE active = 1)"
    )
    return int(str(rows[0][0]))


@pytest.fixture
def locked() -> Iterator[Callable[[Store], None]]:
    """Lock a store's file as another process writing to it would, until the test ends."""
    holders: list[sqlite3.Connection] = []

    def lock(store: Store) -> None:
        store.database._conn.execute("PRAGMA busy_timeout = 50")  # not the 10 s a live bot waits
        other = sqlite3.connect(store.path, timeout=0.1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        holders.append(other)

    yield lock
    for other in holders:
        other.execute("ROLLBACK")
        other.close()


# ---- a locked store ----------------------------------------------------------------------


def test_locked_store_records_no_alert_and_says_busy(
    tmp_path: Path, locked: Callable[[Store], None]
) -> None:
    """Recording alerts while another process writes: StoreError 'busy', nothing written."""
    with Store.open(tmp_path / "s.db") as store:
        _subscribe(store, 5)
        before = _counts(store)
        locked(store)
        with pytest.raises(StoreError) as caught:
            store.record_check(
                _alerts(3), window=30, states={HEADLINE: "{}"}, snapshot="{}", now=NOW
            )
        assert "busy or locked" in str(caught.value)
        assert str(store.path) in str(caught.value)
        assert _counts(store) == before


def _service(tmp_path: Path, store: Store, clock: Callable[[], datetime]) -> CorrService:
    config = Config.model_validate(
        {
            "data": {
                "crypto_source": "synthetic",
                "equity_source": "synthetic",
                "history_sessions": 200,
            },
            "storage": {"path": tmp_path / "s.db"},
        }
    )
    market = build_market_data(config, store, clock, show_progress=False)
    return CorrService(store, market, build_evaluator(config), clock=clock)


async def test_locked_store_fails_the_daily_job_cleanly_then_it_recovers(tmp_path: Path) -> None:
    """The daily job on a locked store raises StoreError and writes nothing; the next run works."""
    with Store.open(tmp_path / "s.db") as store:
        service = _service(tmp_path, store, lambda: NOW)
        before = _counts(store)
        store.database._conn.execute("PRAGMA busy_timeout = 50")
        other = sqlite3.connect(store.path, timeout=0.1, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="busy or locked"):
                await service.check_now()
            assert _counts(store) == before, "nothing written while locked"
        finally:
            other.execute("ROLLBACK")
            other.close()
        result = await service.check_now()
        assert result.ok
        assert store.alerts.engine_states(30), "the next run did the work"
        await service.close()


# ---- a full disk -------------------------------------------------------------------------


def _fill_up(store: Store, headroom: int) -> None:
    """Let the file grow by ``headroom`` pages at most: then writes fail with SQLITE_FULL."""
    pages = int(store.database._conn.execute("PRAGMA page_count").fetchone()[0])
    store.database._conn.execute(f"PRAGMA max_page_count = {pages + headroom}")


@pytest.mark.parametrize("headroom", [1, 10], ids=["statement-rolled-back", "sqlite-rolled-back"])
def test_full_disk_records_no_alert_without_its_deliveries(tmp_path: Path, headroom: int) -> None:
    """Disk full while recording alerts: StoreError, and the whole run is rolled back."""
    with Store.open(tmp_path / "s.db") as store:
        _subscribe(store, 30)
        before = _counts(store)
        _fill_up(store, headroom)
        with pytest.raises(StoreError) as caught:
            store.record_check(
                _alerts(28), window=30, states={HEADLINE: "{}"}, snapshot="s" * 1000, now=NOW
            )
        assert str(store.path) in str(caught.value)
        assert _counts(store) == before, "not one alert, message, delivery or state written"
        assert _orphans(store) == 0
        _fill_up(store, 10_000)  # space freed: the same run goes through, complete
        recorded = store.record_check(
            _alerts(28), window=30, states={HEADLINE: "{}"}, snapshot="s" * 1000, now=NOW
        )
        assert len(recorded) == 28
        assert _counts(store)["deliveries"] == 28 * 30
        assert _orphans(store) == 0


def _record_check(store: Store) -> None:
    _subscribe(store, 30)
    _fill_up(store, 10)  # this headroom makes SQLite roll the transaction back itself
    store.record_check(
        _alerts(28), window=30, states={HEADLINE: "{}"}, snapshot="s" * 1000, now=NOW
    )


def _record_run(store: Store) -> None:
    _fill_up(store, 2)
    store.meta.record_run(LastRun(NOW, NOW, False, 0, None, ["x" * 200_000]))


def _record_fetch(store: Store) -> None:
    _fill_up(store, 2)
    for i in range(200):
        store.prices.record_fetch(
            f"SYM{i}" * 100, source="x" * 500, attempted_at=NOW, error="e" * 500
        )


def _subscribe_many(store: Store) -> None:
    _fill_up(store, 2)
    subscribers = store.subscribers
    for chat in range(3000):
        subscribers.subscribe(chat, kind="private", title="t" * 200, thread_id=None, now=NOW)


@pytest.mark.parametrize(
    "write",
    [_record_check, _record_run, _record_fetch, _subscribe_many],
    ids=["record_check", "record_run", "record_fetch", "subscribe"],
)
def test_full_disk_is_a_store_error_naming_the_cause(
    tmp_path: Path, write: Callable[[Store], None]
) -> None:
    """Any write hitting a full disk raises StoreError saying the disk is full."""
    with Store.open(tmp_path / "s.db") as store:
        with pytest.raises(StoreError) as caught:
            write(store)
        assert "disk is full" in str(caught.value)
        assert str(store.path) in str(caught.value)


@pytest.mark.parametrize(
    "write",
    [_record_check, _record_run, _record_fetch, _subscribe_many],
    ids=["record_check", "record_run", "record_fetch", "subscribe"],
)
def test_full_disk_is_told_apart_from_a_damaged_store(
    tmp_path: Path, write: Callable[[Store], None]
) -> None:
    """A full disk is a DiskFullError saying to keep the store, never to move it aside."""
    with Store.open(tmp_path / "s.db") as store, pytest.raises(DiskFullError) as caught:
        write(store)
    assert "keep it" in str(caught.value)
    assert "move it aside" not in str(caught.value)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MiB file system (tmpfs), for a disk that really fills up; root only."""
    mount = shutil.which("mount")
    if os.geteuid() != 0 or mount is None:
        pytest.skip("mounting a small tmpfs needs root")
    folder = tmp_path / "tiny"
    folder.mkdir()
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace')}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def _fill_disk(folder: Path) -> Path:
    """Write a file until the file system has no byte left; deleting it frees the space."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        for chunk in (1 << 16, 512):  # big writes, then small ones into the last page
            with contextlib.suppress(OSError):
                for _ in range((8 << 20) // chunk):  # bounded: twice the disk's size
                    os.write(fd, b"x" * chunk)
    finally:
        os.close(fd)
    return filler


def _store_at_rest(path: Path, chats: int) -> None:
    """A store with ``chats`` subscribers, closed cleanly with no WAL files beside it."""
    with Store.open(path) as store:
        _subscribe(store, chats)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()


def test_a_full_disk_at_start_up_says_so_and_the_store_opens_once_space_is_freed(
    tiny_disk: Path,
) -> None:
    """Start-up on a full disk: "is full", keep the store; freed, every subscriber is there."""
    path = tiny_disk / "store.sqlite3"
    _store_at_rest(path, 40)
    filler = _fill_disk(tiny_disk)
    with pytest.raises(DiskFullError) as caught:
        Store.open(path)
    assert "is full" in str(caught.value)
    assert "keep it" in str(caught.value)
    filler.unlink()
    with Store.open(path) as store:
        assert store.subscribers.count_active() == 40


def test_fetch_on_a_full_disk_exits_1_with_one_line_naming_the_disk(tiny_disk: Path) -> None:
    """The command line says the disk is full, in one line, and does not blame the store."""
    config = tiny_disk.parent / "config.yaml"
    config.write_text(
        "data: {crypto_source: synthetic, equity_source: synthetic, history_sessions: 60}\n"
        f"storage: {{path: {tiny_disk / 'corrbot.sqlite3'}}}\n"
    )
    _store_at_rest(tiny_disk / "corrbot.sqlite3", 3)
    _fill_disk(tiny_disk)
    done = _corrbot("fetch", "--config", str(config))
    assert done.returncode == 1, done.stderr
    assert "is full" in done.stderr
    assert "move it aside" not in done.stderr
    assert "Traceback" not in done.stderr


async def test_a_job_failing_on_a_full_disk_tells_the_admins_directly_and_retries(
    tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/runnow on a full disk: a summary naming it, a direct notice, a retry; freed, it runs."""
    retries = record_daily_retries(monkeypatch)
    async with running_bot(tiny_disk, storage={"path": str(tiny_disk / "bot.sqlite3")}) as bot:
        bot.store.query("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL's slack is space too
        filler = _fill_disk(tiny_disk)
        bot.clock.advance(timedelta(minutes=1))  # a run identical to the last writes nothing
        started = bot.clock()
        bot.server.send_command("/runnow", user_id=ADMIN)
        replies = await bot.server.wait_for_reply(ADMIN, count=3, timeout=30)
        texts = [str(m.text) for m in replies]
        summary = next(t for t in texts if t.startswith("The daily job failed"))
        notice = next(t for t in texts if "The daily job failed" in t and t is not summary)
        assert "is full" in summary
        assert "Retrying at" in notice
        assert retries == [started + timedelta(minutes=20)]
        filler.unlink()
        bot.clock.advance(timedelta(minutes=1))
        bot.server.send_command("/runnow", user_id=ADMIN)
        *_, done = await bot.server.wait_for_reply(ADMIN, count=2, timeout=30)
        assert "Daily job done" in str(done.text)


async def test_start_on_a_full_disk_is_answered_and_works_once_space_is_freed(
    tiny_disk: Path,
) -> None:
    """/start that cannot be saved says why (not silence); freed, the same /start subscribes."""
    async with running_bot(tiny_disk, storage={"path": str(tiny_disk / "bot.sqlite3")}) as bot:
        bot.store.query("PRAGMA wal_checkpoint(TRUNCATE)")  # the WAL's slack is space too
        filler = _fill_disk(tiny_disk)
        bot.server.send_command("/start", user_id=USER)
        [refused] = await bot.server.wait_for_reply(USER, timeout=15)
        assert refused.text == STORE_FULL
        assert bot.store.subscribers.count_active() == 0
        filler.unlink()
        bot.server.send_command("/start", user_id=USER)
        await bot.server.wait_for_reply(USER, timeout=15)
        assert bot.store.subscribers.count_active() == 1


# ---- a corrupt file or a newer schema at start-up ----------------------------------------


def _fetch_config(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        "data: {crypto_source: synthetic, equity_source: synthetic, history_sessions: 60}\n"
        "storage: {path: corrbot.sqlite3}\n"
    )
    return config


def _corrbot(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` as a user runs it, offline, its clock starting at :data:`NOW`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tests.fakes.clocked", NOW.isoformat(), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_corrupt_store_is_refused_naming_the_file_and_the_way_out(tmp_path: Path) -> None:
    """A file that is not a database: StoreError naming its path and to move it aside."""
    path = tmp_path / "s.db"
    path.write_bytes(b"\x00garbage, not SQLite\xff" * 500)
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert str(path) in message
    assert "move it aside" in message


def test_fetch_on_a_corrupt_store_exits_1_with_one_line(tmp_path: Path) -> None:
    """`corrbot fetch` on a corrupt store: exit 1, one clear line on stderr, no traceback."""
    config = _fetch_config(tmp_path)
    store = tmp_path / "corrbot.sqlite3"
    store.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)  # a header, then junk
    done = _corrbot("fetch", "--config", str(config))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert lines[0].startswith("corrbot: ")
    assert str(store) in lines[0]
    assert "move it aside" in lines[0]
    assert done.stdout == ""


def _store_with_prices(path: Path) -> None:
    """A healthy store holding enough prices to span many pages, checkpointed into the file."""
    index = pd.date_range("2020-01-01", periods=4000, freq="h", tz="UTC")
    closes = pd.Series(np.linspace(100.0, 200.0, len(index)), index=index)
    with Store.open(path) as store:
        for symbol in ("BTC", "ETH", "PSCT"):
            store.prices.upsert(symbol, closes, source="synthetic", fetched_at=NOW)
        store.database._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _open_and_read(path: Path) -> None:
    """Open the store and read what the first refresh reads."""
    with Store.open(path) as store:
        for symbol in ("BTC", "ETH", "PSCT"):
            store.prices.load(symbol)


def test_store_with_corrupt_data_pages_is_refused_at_start_up(tmp_path: Path) -> None:
    """Corrupt price pages are caught at start-up with the recovery advice, not mid-run."""
    path = tmp_path / "s.db"
    _store_with_prices(path)
    data = bytearray(path.read_bytes())
    page = 4096
    pages = len(data) // page
    for offset in range((pages // 2) * page, (pages - 1) * page):
        data[offset] = (offset * 13) % 256
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        _open_and_read(path)
    assert "move it aside" in str(caught.value)


def test_newer_schema_is_refused_and_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store from a newer corrbot: exit 1 saying to upgrade; its tables and version kept."""
    config = _fetch_config(tmp_path)
    path = tmp_path / "corrbot.sqlite3"
    newer = len(MIGRATIONS) + 1
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE future (x)")
    conn.execute(f"PRAGMA user_version = {newer}")
    conn.close()
    assert main(["fetch", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert f"schema version {newer}" in lines[0]
    assert "upgrade corrbot" in lines[0]
    assert str(path) in lines[0]
    conn = sqlite3.connect(path)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        version = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    assert tables == {"future"}
    assert version == newer


# ---- the store locked at the moment Telegram confirms a delivery -------------------------


async def test_store_locked_at_confirmation_does_not_send_twice(tmp_path: Path) -> None:
    """If the store is briefly locked when Telegram confirms, the alert still goes out once."""
    async with FakeTelegram() as server:
        with Store.open(tmp_path / "s.db") as store:
            service = _service(tmp_path, store, lambda: NOW)
            _subscribe(store, 1)
            store.record_check(_alerts(1), window=30, states={}, snapshot=None, now=NOW)
            store.database._conn.execute("PRAGMA busy_timeout = 50")
            holder = sqlite3.connect(store.path, timeout=0.1, isolation_level=None)
            deliver = server._methods["sendmessage"]

            def deliver_then_lock(params: dict[str, object], files: dict[str, bytes]) -> object:
                """Telegram accepts the message; meanwhile another process locks the store."""
                result = deliver(params, files)
                if not holder.in_transaction:
                    holder.execute("BEGIN IMMEDIATE")
                return result

            server._methods["sendmessage"] = deliver_then_lock
            refused: list[StoreError] = []
            record_sent = service.outbox.sent

            def spy_on_recording(*args: Any, **kwargs: Any) -> None:
                try:
                    record_sent(*args, **kwargs)
                except StoreError as exc:
                    refused.append(exc)
                    raise

            service.outbox.sent = spy_on_recording  # type: ignore[method-assign]
            bot_api = ExtBot(
                TOKEN,
                base_url=server.base_url,
                base_file_url=server.base_file_url,
                rate_limiter=PacedRateLimiter(),
            )
            async with bot_api:
                sender = Sender(bot_api, service.store, service.now)
                first_pass = asyncio.create_task(sender.drain(within=60.0))
                await until(lambda: refused, 30, "recording the confirmed send to meet the lock")
                holder.execute("ROLLBACK")  # the other process is done
                await first_pass
                status = store.query("SELECT status FROM deliveries")[0][0]
                await sender.drain(within=1.0)  # e.g. the next pass, or the next start
            await service.close()
            holder.close()
    assert len(server.sent) == 1, "Telegram accepted it once: it must not be sent again"
    assert status == "sent"
