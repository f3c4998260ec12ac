"""Security: the token never leaks, admin and group settings are guarded, chats are isolated.

The store is also checked to be created owner-only.

The bot runs for real (``tests.fakes.bot_harness.running_bot``) against the fake Bot API; ``corrbot
check`` runs as a subprocess against it, as cron would run it.
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import os
import stat
import urllib.parse
import warnings
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import pytest

from bot.cli import main
from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.store import Store
from bot.logsetup import redact, register_secret
from bot.tg.app import EXIT_CONFLICT, run_bot
from tests.fakes.bot_harness import (
    ADMIN,
    START,
    RunningBot,
    bot_config,
    running_bot,
    spawn_corrbot,
    until,
)
from tests.fakes.telegram_api import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
SECRET = TOKEN.split(":", 1)[1]
TOKEN_FORMS = (TOKEN, SECRET, urllib.parse.quote(TOKEN, safe=""), urllib.parse.quote(SECRET))
REFUSED = "for the bot's administrators"
GROUP_ONLY = "only its administrators"
USER, OTHER = 1001, 1002


def _leaks(text: str) -> list[str]:
    return [form for form in TOKEN_FORMS if form in text]


def _row(bot: RunningBot, chat_id: int) -> tuple[object, ...] | None:
    rows = bot.store.query(
        "SELECT active, spikes, regimes, digest FROM chats WHERE chat_id = ?", [chat_id]
    )
    return rows[0] if rows else None


def _subscribe(bot: RunningBot, *chats: tuple[int, str]) -> None:
    subscribers = bot.store.subscribers
    for chat_id, kind in chats:
        subscribers.subscribe(chat_id, kind=kind, title="t", thread_id=None, now=bot.clock())


def _queue(store: Store, day: date, now: datetime, kind: AlertKind = AlertKind.REGIME) -> None:
    alert = Alert(kind, Pair("BTC", "PSCT"), 30, day, 0.71, 0.12, 3.3, "linked", "coupled")
    message = Message(title=f"{alert.pair} regime", lead="Test alert.", footer="x")
    store.record_check([(alert, message.to_json())], window=30, states={}, snapshot=None, now=now)


@pytest.fixture
def plain_root_handler() -> Iterator[io.StringIO]:
    """A third-party-style handler on the root logger: plain Formatter, DEBUG, no redaction."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)


# ---------------------------------------------------------------------------- (a) the token


async def test_token_is_absent_from_every_log_line_and_message_of_a_whole_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, plain_root_handler: io.StringIO
) -> None:
    """Commands, 5xx, a 403 and a conflict at DEBUG: no log line or message holds the token."""
    caplog.set_level(logging.DEBUG)
    async with running_bot(tmp_path) as bot:
        server = bot.server
        commands = [
            (USER, "/start"),
            (OTHER, "/start"),
            (USER + 10, "/corr"),
            (USER + 11, "/settings spikes silent"),
            (USER + 12, "/frobnicate"),
            (USER + 13, f"/help {TOKEN}"),
            (ADMIN, "/status"),
        ]
        _subscribe(bot, (USER + 11, "private"))
        for chat_id, text in commands:  # each from its own chat: no per-chat pacing
            server.send_command(text, chat_id=chat_id, user_id=chat_id)
        for chat_id, _ in commands:
            await server.wait_for_reply(chat_id)
        server.error_rate = 1.0  # every send fails with 500/502: retried, logged
        bot.queue_alert(date(2024, 6, 3), AlertKind.REGIME)
        await until(lambda: bot.store.query("SELECT MIN(attempts) FROM deliveries")[0][0] >= 1, 15)
        server.error_rate = 0.0
        server.block(OTHER)  # 403 on the retry: the chat is deactivated
        await until(lambda: _row(bot, OTHER) == (0, "on", "on", 0), 20, "the 403")
        server.conflict = True  # another instance polls the token: the bot stops
        status = await asyncio.wait_for(bot.task, timeout=30)
    assert status == EXIT_CONFLICT
    assert "another instance is polling" in caplog.text
    assert "[REDACTED]" in caplog.text, "the token was on its way into the logs"
    assert any(r.levelno <= logging.DEBUG for r in caplog.records), "ran at DEBUG"
    sent = "\n".join(str(m.text) for m in server.sent + server.edits)
    assert _leaks(caplog.text) == []
    assert _leaks(plain_root_handler.getvalue()) == []
    assert _leaks("\n".join(r.getMessage() for r in caplog.records)) == []
    assert _leaks(sent) == []


async def test_a_rejected_token_is_reported_without_showing_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, plain_root_handler: io.StringIO
) -> None:
    """When Telegram refuses the token (401), `run` says so and exits 2 without printing it."""
    caplog.set_level(logging.DEBUG)
    async with FakeTelegram(token="999999:another-token-entirely") as server:
        config = bot_config(tmp_path, server)
        status = await asyncio.wait_for(run_bot(config, TOKEN), timeout=30)
        _collect_leaked_transports()  # leaks are the subject of the next test
    assert status == 2
    assert "rejected the bot token" in caplog.text
    assert _leaks(caplog.text) == []
    assert _leaks(plain_root_handler.getvalue()) == []


def _collect_leaked_transports() -> list[str]:
    """Collect garbage now; the 'unclosed transport/socket' warnings that produces."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [str(w.message)[:120] for w in caught if issubclass(w.category, ResourceWarning)]


async def test_a_rejected_token_leaves_no_connection_open(tmp_path: Path) -> None:
    """After Telegram refuses the token, `run` has closed every HTTP connection it opened."""
    async with FakeTelegram(token="999999:another-token-entirely") as server:
        config = bot_config(tmp_path, server)
        status = await asyncio.wait_for(run_bot(config, TOKEN), timeout=30)
        leaked = _collect_leaked_transports()
    assert status == 2
    assert leaked == []


def _check_config(tmp_path: Path, server: FakeTelegram) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "data: {crypto_source: synthetic, equity_source: synthetic, history_sessions: 120}\n"
        "storage: {path: store.sqlite3}\n"
        f"telegram: {{api_base_url: '{server.base_url}'}}\n"
        "delivery: {max_attempts: 2, messages_per_second: 30}\n"
    )
    return path


async def _check(config: Path, *args: str, token: str = TOKEN) -> tuple[int, str]:
    process = await spawn_corrbot(
        *args,
        "check",
        "--config",
        str(config),
        at=START,
        env={**os.environ, "TELEGRAM_BOT_TOKEN": token},
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def test_check_at_debug_with_failing_deliveries_never_prints_the_token(
    tmp_path: Path,
) -> None:
    """`corrbot -vv check` with 5xx, a 403 and a missing chat prints no form of the token."""
    async with FakeTelegram() as server:
        config = _check_config(tmp_path, server)
        with Store.open(tmp_path / "store.sqlite3") as store:
            chats = store.subscribers
            for chat in (1, 2, 3):
                chats.subscribe(chat, kind="private", title="", thread_id=None, now=START)
            _queue(store, date(2024, 6, 3), START)
        server.error_rate = 1.0
        server.block(2)
        server.chat_not_found(3)
        status, output = await _check(config, "-vv")
    assert status == 1, output[-2000:]
    assert "DEBUG" in output
    assert "1 failed" in output
    assert "2 dropped" in output
    assert server.calls("sendMessage"), "deliveries were attempted"
    assert _leaks(output) == []


async def test_a_token_pasted_with_surrounding_whitespace_never_reaches_debug_output(
    tmp_path: Path,
) -> None:
    """`corrbot -vv check` with the variable as pasted (spaces, a newline) still redacts it."""
    async with FakeTelegram() as server:
        config = _check_config(tmp_path, server)
        with Store.open(tmp_path / "store.sqlite3") as store:
            store.subscribers.subscribe(1, kind="private", title="", thread_id=None, now=START)
            _queue(store, date(2024, 6, 3), START)
        status, output = await _check(config, "-vv", token=f"  {TOKEN}\n")
    assert status == 0, output[-2000:]
    assert "DEBUG" in output
    assert server.calls("sendMessage"), "the stripped token was accepted"
    assert _leaks(output) == []


def test_a_token_inside_telegram_api_base_url_is_refused_without_echoing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The config error names the key and says why, but never shows the URL's token."""
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(f"telegram:\n  api_base_url: 'ftp://api.telegram.org/bot{TOKEN}/'\n")
    status = main(["check", "--dry-run", "--config", str(config)])
    err = capsys.readouterr().err
    assert status == 2
    assert "telegram.api_base_url: holds a bot token" in err
    assert _leaks(err) == []


def test_an_invalid_telegram_api_base_url_is_refused_without_echoing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed URL may still carry a secret (a proxy password): the value is not shown."""
    config = tmp_path / "config.yaml"
    config.write_text("telegram:\n  api_base_url: 'ftp://user:hunter2hunter2@proxy/bot'\n")
    status = main(["check", "--dry-run", "--config", str(config)])
    err = capsys.readouterr().err
    assert status == 2
    assert "telegram.api_base_url: must be an http:// or https:// URL" in err
    assert "hunter2" not in err


def test_token_shaped_text_is_redacted_even_when_never_registered() -> None:
    """A token from somewhere else (another bot's, pasted into a command) is still a secret."""
    other = "987654321:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
    line = redact(f"GET https://api.telegram.org/bot{other}/getMe and {quote(other, safe='')}")
    assert "AAHfiqksKZ8WmR2zSjiQ7" not in line
    assert line.count("[REDACTED]") == 2


def test_the_secret_half_of_a_registered_token_is_redacted_on_its_own() -> None:
    """``123:ABC`` registered: ``ABC`` alone (a URL split at the colon) is redacted too."""
    register_secret(f" {TOKEN}\n")
    assert redact(f"secret={SECRET}") == "secret=[REDACTED]"


async def test_check_with_a_rejected_token_never_prints_it(tmp_path: Path) -> None:
    """`corrbot check` whose token Telegram refuses exits cleanly without printing the token."""
    async with FakeTelegram(token="999999:another-token-entirely") as server:
        config = _check_config(tmp_path, server)
        status, output = await _check(config)
    assert _leaks(output) == [], output[-600:]
    assert "Traceback" not in output
    assert status == 2, output[-600:]
    assert "rejected the bot token" in output


# ---------------------------------------------------------------------------- (b) admins


async def test_admin_commands_are_refused_to_everyone_not_in_telegram_admins(
    tmp_path: Path,
) -> None:
    """/status and /runnow are refused to non-admins in private chats, groups and supergroups."""
    async with running_bot(tmp_path, ready=False) as bot:
        server = bot.server
        chats: list[int] = []
        for n, command in enumerate(("/status", "/runnow", "/status@corr_test_bot")):
            cases = [
                (USER + 10 * n, "private", None),
                (-(4000 + n), "group", "member"),
                (-(4100 + n), "group", "administrator"),
                (-(1_004_200_000_000 + n), "supergroup", "administrator"),
                (-(1_004_300_000_000 + n), "supergroup", "creator"),
            ]
            for chat_id, kind, member in cases:
                user = USER + 10 * n if kind == "private" else OTHER
                if member is not None:
                    server.set_member_status(chat_id, user, member)
                server.send_command(command, chat_id=chat_id, user_id=user, chat_type=kind)
                chats.append(chat_id)
        for chat_id in chats:
            [reply] = await server.wait_for_reply(chat_id)
            assert REFUSED in str(reply.text), (chat_id, reply.text)
    texts = [str(m.text) for m in server.sent]
    assert not [t for t in texts if "Subscribers:" in t or "Running the daily job" in t]


async def test_admin_commands_work_for_an_admin_in_private_and_in_groups(tmp_path: Path) -> None:
    """The admin's user id may use /status and /runnow in a private chat and in any group."""
    async with running_bot(tmp_path) as bot:
        server = bot.server
        places = [(ADMIN, "private"), (-4500, "group"), (-1_004_600_000_000, "supergroup")]
        for chat_id, kind in places:
            server.send_command("/status", chat_id=chat_id, user_id=ADMIN, chat_type=kind)
        for chat_id, _ in places:
            [status] = await server.wait_for_reply(chat_id)
            assert "Subscribers:" in str(status.text)
        for chat_id, kind in places[:2]:
            server.send_command("/runnow", chat_id=chat_id, user_id=ADMIN, chat_type=kind)
        for chat_id, _ in places[:2]:
            ack, done = await server.wait_for_reply(chat_id, count=2, timeout=30)
            assert "Running the daily job" in str(ack.text)
            assert "Daily job done" in str(done.text)


# ---------------------------------------------------------------------------- (c) groups


async def test_group_settings_change_by_text_only_for_group_administrators(
    tmp_path: Path,
) -> None:
    """/settings in a group changes nothing for members; administrators and creators change it."""
    group, supergroup = -4700, -1_004_800_000_000
    async with running_bot(tmp_path, ready=False) as bot:
        server = bot.server
        _subscribe(bot, (group, "group"), (supergroup, "supergroup"))
        server.set_member_status(group, OTHER, "member")
        server.set_member_status(group, USER, "administrator")
        server.set_member_status(supergroup, USER, "creator")
        server.set_member_status(supergroup, OTHER, "left")
        server.send_command("/settings spikes off", chat_id=group, user_id=OTHER)
        server.send_command("/settings regimes silent", chat_id=supergroup, user_id=OTHER)
        [member] = await server.wait_for_reply(group)
        [gone] = await server.wait_for_reply(supergroup)
        assert GROUP_ONLY in str(member.text)
        assert GROUP_ONLY in str(gone.text)
        assert _row(bot, group) == (1, "on", "on", 0)
        assert _row(bot, supergroup) == (1, "on", "on", 0)
        server.send_command("/settings spikes off", chat_id=group, user_id=USER)
        server.send_command("/settings regimes silent", chat_id=supergroup, user_id=USER)
        [admin] = await server.wait_for_reply(group, timeout=10)
        [creator] = await server.wait_for_reply(supergroup, timeout=10)
        assert "Settings for this chat" in str(admin.text)
        assert "Settings for this chat" in str(creator.text)
        assert _row(bot, group) == (1, "off", "on", 0)
        assert _row(bot, supergroup) == (1, "on", "silent", 0)


async def test_group_settings_buttons_only_work_for_group_administrators(tmp_path: Path) -> None:
    """A member pressing a settings button gets an alert, changes nothing; an admin changes it."""
    group = -1_004_900_000_000
    async with running_bot(tmp_path, ready=False) as bot:
        server = bot.server
        _subscribe(bot, (group, "supergroup"))
        server.set_member_status(group, USER, "administrator")
        server.set_member_status(group, OTHER, "member")
        server.send_command("/settings", chat_id=group, user_id=OTHER)  # showing is for all
        [shown] = await server.wait_for_reply(group)
        assert shown.reply_markup is not None
        server.press_button(
            "set:spikes:off", chat_id=group, user_id=OTHER, message_id=shown.message_id
        )
        await until(lambda: server.calls("answerCallbackQuery"), what="the member's answer")
        [answer] = server.calls("answerCallbackQuery")
        assert answer.params.get("show_alert") is True
        assert "Only group administrators" in str(answer.params.get("text"))
        assert _row(bot, group) == (1, "on", "on", 0)
        assert server.edits == []
        server.press_button(
            "set:spikes:off", chat_id=group, user_id=USER, message_id=shown.message_id
        )
        await until(lambda: server.edits, 10, "the admin's edit")
        assert _row(bot, group) == (1, "off", "on", 0)


# ---------------------------------------------------------------------------- (d) isolation

CHAT_A, CHAT_B = 2001, 2002


async def test_settings_show_and_change_only_the_chat_they_are_sent_in(tmp_path: Path) -> None:
    """/settings in chat A shows and changes A only, never chat B's settings."""
    async with running_bot(tmp_path, ready=False) as bot:
        server = bot.server
        _subscribe(bot, (CHAT_A, "private"), (CHAT_B, "private"))
        server.send_command("/settings spikes off", chat_id=CHAT_B, user_id=CHAT_B)
        await server.wait_for_reply(CHAT_B)
        server.send_command("/settings", chat_id=CHAT_A, user_id=CHAT_A)
        [shown] = await server.wait_for_reply(CHAT_A)
        assert "Spike and decoupling alerts: <b>on</b>" in str(shown.text)
        server.send_command("/settings regimes silent", chat_id=CHAT_A, user_id=CHAT_A)
        await server.wait_for_reply(CHAT_A, timeout=10)
        assert _row(bot, CHAT_A) == (1, "on", "silent", 0)
        assert _row(bot, CHAT_B) == (1, "off", "on", 0)
        server.send_command("/settings", chat_id=3003, user_id=3003)  # never subscribed
        [stranger] = await server.wait_for_reply(3003)
        assert "not subscribed yet" in str(stranger.text)


async def test_crafted_callback_data_only_affects_the_pressing_chat(tmp_path: Path) -> None:
    """Button data naming chat B, another column or SQL never touches B; plain data changes A."""
    async with running_bot(tmp_path, ready=False) as bot:
        server = bot.server
        _subscribe(bot, (CHAT_A, "private"), (CHAT_B, "private"))
        crafted = [
            f"set:spikes:off:{CHAT_B}",
            f"set:{CHAT_B}:spikes:off",
            f"set:chat_id:{CHAT_B}",
            "set:active:0",
            "set:spikes = 'off' WHERE 1=1; --:off",
            "set:spikes:off' WHERE chat_id != 0; --",
        ]
        for n, data in enumerate(crafted, start=1):
            server.press_button(data, chat_id=CHAT_A, user_id=CHAT_A, message_id=n)
        await until(lambda: len(server.calls("answerCallbackQuery")) == len(crafted), 10)
        assert _row(bot, CHAT_A) == (1, "on", "on", 0)
        assert _row(bot, CHAT_B) == (1, "on", "on", 0)
        server.press_button("set:spikes:off", chat_id=CHAT_A, user_id=CHAT_A, message_id=99)
        await until(lambda: _row(bot, CHAT_A) == (1, "off", "on", 0), 10, "A's own change")
        assert _row(bot, CHAT_B) == (1, "on", "on", 0)


async def test_settings_naming_another_chat_get_the_usage_line(tmp_path: Path) -> None:
    """/settings with another chat's id among its arguments gets usage and changes nothing."""
    probes = [f"/settings {CHAT_B}", f"/settings spikes {CHAT_B}", f"/settings {CHAT_B} spikes off"]
    async with running_bot(tmp_path, ready=False) as bot:
        server = bot.server
        attackers = [(3100 + n, "private") for n in range(len(probes))]
        _subscribe(bot, (CHAT_B, "private"), *attackers)
        for (chat_id, _), text in zip(attackers, probes, strict=True):
            server.send_command(text, chat_id=chat_id, user_id=chat_id)
        for chat_id, _ in attackers:
            [reply] = await server.wait_for_reply(chat_id)
            assert "Usage: /settings" in str(reply.text)
            assert _row(bot, chat_id) == (1, "on", "on", 0)
        assert _row(bot, CHAT_B) == (1, "on", "on", 0)


# ---------------------------------------------------------------------------- (e) the store


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Set umask 0, so a file not created owner-only on purpose would be world-readable."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_fetch_creates_the_store_owner_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], open_umask: None
) -> None:
    """`corrbot fetch` on a fresh path creates the SQLite store with mode 0600."""
    config = tmp_path / "config.yaml"
    config.write_text(
        "data: {crypto_source: synthetic, equity_source: synthetic, history_sessions: 60}\n"
        "storage: {path: fresh/dir/store.sqlite3}\n"
    )
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        assert main(["fetch", "--config", str(config)]) == 0
    finally:
        root.handlers[:] = handlers  # main() installs its own stderr handler
        root.setLevel(level)
    capsys.readouterr()
    store = tmp_path / "fresh" / "dir" / "store.sqlite3"
    assert _mode(store) == 0o600
    for suffix in ("-wal", "-shm", "-journal"):
        companion = store.with_name(store.name + suffix)
        if companion.exists():
            assert _mode(companion) == 0o600, companion


def test_store_wal_and_shm_files_are_owner_only_while_open(
    tmp_path: Path, open_umask: None
) -> None:
    """While the store is in use (as by the running bot), its -wal and -shm are mode 0600."""
    path = tmp_path / "live.sqlite3"
    with Store.open(path) as store:  # what the bot's start-up does with storage.path
        store.subscribers.subscribe(1, kind="private", title="", thread_id=None, now=START)
        files = [path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))]
        assert all(p.exists() for p in files), "WAL mode keeps both companions while open"
        modes = {p.name: oct(_mode(p)) for p in files}
    assert set(modes.values()) == {"0o600"}, modes
