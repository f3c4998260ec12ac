"""Start-up time and resident memory of a running ``corrbot run`` process.

Spawns ``python -m bot run --config CFG`` as a subprocess, with ``TELEGRAM_BOT_TOKEN`` set
and a configuration that points at a loopback fake Bot API (``tests/fakes/telegram_api.py``)
served by this process and at a synthetic market (default universe and history), so no
network is used. Measured:

* start-up: from the spawn to the bot's first request (getMe: the imports are done) and
  to its first ``getUpdates`` (polling: the bot answers commands from then on);
* resident memory (``VmRSS`` of ``/proc/<pid>/status``) at the first getUpdates, once the
  start-up catch-up computation has produced the first snapshot (``/corr`` answers with
  numbers), at checkpoints while N commands are sent, and after them; the growth, per
  1,000 commands, and the peak (``VmHWM``);
* the time the process takes to exit after SIGTERM.

The commands are a mix of ``/corr``, ``/alerts``, ``/help`` and ``/settings`` from
``--chats`` different private chats (so the 1 msg/s per-chat spacing never binds), at
most ``--inflight`` waiting at a time. The bot paces its replies at 28 msg/s, so 10,000
commands take about six minutes.

Baselines measured in the same run, the same way (spawned interpreters): ``python -c
pass`` (interpreter start) and ``python -c "import bot.cli, bot.tg.app"`` (the modules a
running bot imports, and the RSS of having imported them).

Run from the repository root:

    PYTHONPATH=. python benchmarks/memory_startup.py [--commands N] [--chats N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.telegram_api import TOKEN, FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
MIX = ("/corr", "/alerts", "/help", "/settings")
FIRST_CHAT = 600_000_001
PROBE_CHAT = 700_000_001


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    found: dict[str, int] = {}
    with Path(f"/proc/{pid}/status").open() as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0])
    return found


def _mib(kib: int) -> str:
    return f"{kib / 1024:7.1f} MiB"


def _env() -> dict[str, str]:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


async def _baseline(code: str) -> tuple[float, int]:
    """Wall time of ``python -c code`` and the RSS (KiB) it prints, if any."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=ROOT, env=_env(), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    elapsed = time.monotonic() - started
    text = out.decode().strip()
    return elapsed, int(text) if text.isdigit() else 0


_IMPORTS_RSS = (
    "import bot.cli, bot.tg.app\n"
    "from pathlib import Path\n"
    "line = [l for l in Path('/proc/self/status').read_text().splitlines()"
    " if l.startswith('VmRSS')][0]\n"
    "print(line.split()[1])"
)


def _config(folder: Path, server: FakeTelegram) -> Path:
    path = folder / "config.yaml"
    path.write_text(
        "data: {crypto_source: synthetic, equity_source: synthetic}\n"
        f"telegram: {{api_base_url: '{server.base_url}'}}\n"
        f"storage: {{path: '{folder / 'bot.sqlite3'}'}}\n"
    )
    return path


async def _until(predicate, within: float, what: str):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.005)
    raise TimeoutError(f"timed out after {within} s waiting for {what}")


async def _wait_ready(server: FakeTelegram, within: float) -> float:
    """Ask /corr (a new chat each time) until it answers with numbers; returns when."""
    deadline = time.monotonic() + within
    chat = PROBE_CHAT
    while time.monotonic() < deadline:
        server.send_command("/corr", chat_id=chat, user_id=chat)
        [reply] = await server.wait_for_reply(chat, timeout=30)
        if reply.text and "vs US equities" in reply.text:
            return reply.time
        chat += 1
        await asyncio.sleep(0.25)
    raise TimeoutError("the bot never produced its first snapshot")


async def _send_commands(
    server: FakeTelegram, pid: int, args: argparse.Namespace
) -> list[tuple[int, int, float]]:
    """Offer the commands with at most ``inflight`` unanswered; RSS at checkpoints."""
    base = len(server.sent)
    checkpoints = {round(args.commands * k / 10) for k in range(1, 11)}
    samples: list[tuple[int, int, float]] = []
    started = time.monotonic()
    deadline = started + args.commands / 20 + 120
    offered = 0
    while offered < args.commands:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(server.sent) - base} of {offered} commands answered")
        answered = len(server.sent) - base
        while offered < args.commands and offered - answered < args.inflight:
            chat = FIRST_CHAT + offered % args.chats
            server.send_command(MIX[offered % len(MIX)], chat_id=chat, user_id=chat)
            offered += 1
            if offered in checkpoints:
                samples.append((offered, _status(pid)["VmRSS"], time.monotonic() - started))
        await asyncio.sleep(0.02)
    await _until(
        lambda: len(server.sent) - base >= args.commands and not server.pending_updates,
        args.inflight / 20 + 60,
        "the last replies",
    )
    samples.append((args.commands, _status(pid)["VmRSS"], time.monotonic() - started))
    return samples


async def main_async(args: argparse.Namespace) -> None:
    python_start, _ = await _baseline("pass")
    import_time, import_rss = await _baseline(_IMPORTS_RSS)
    with tempfile.TemporaryDirectory(prefix="corrbot-memory-") as tmp:
        async with FakeTelegram() as server:
            config = _config(Path(tmp), server)
            spawned = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "--config",
                str(config),
                cwd=ROOT,
                env=_env(),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                await _until(lambda: server.calls("getUpdates"), 120, "the first getUpdates")
                rss_polling = _status(process.pid)["VmRSS"]
                first_request = server.requests[0].time - spawned
                first_poll = server.calls("getUpdates")[0].time - spawned
                ready_at = await _wait_ready(server, 180)
                await asyncio.sleep(1.0)  # let the catch-up job finish its bookkeeping
                rss_ready = _status(process.pid)["VmRSS"]
                before = len(server.sent)
                samples = await _send_commands(server, process.pid, args)
                replies = len(server.sent) - before
                await asyncio.sleep(1.0)
                status_after = _status(process.pid)
                stopping = time.monotonic()
                process.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(process.communicate(), 60)
                exit_seconds = time.monotonic() - stopping
            finally:
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
    rss_after = status_after["VmRSS"]
    growth = rss_after - rss_ready
    print(
        f"corrbot run, synthetic market, fake Bot API; {args.commands} commands ({', '.join(MIX)})"
    )
    print(f"from {args.chats} chats, at most {args.inflight} unanswered")
    row = "  {:<52}{}"
    print("start-up")
    print(row.format("baseline `python -c pass`:", f"{python_start:6.2f} s"))
    print(row.format("baseline `python -c 'import bot.cli, bot.tg.app'`:", f"{import_time:6.2f} s"))
    print(
        row.format(
            "spawn -> first request (getMe):",
            f"{first_request:6.2f} s  ({first_request / import_time:.2f}x the import baseline)",
        )
    )
    print(
        row.format(
            "spawn -> first getUpdates:",
            f"{first_poll:6.2f} s  ({first_poll / python_start:.1f}x interpreter start, "
            f"{first_poll / import_time:.2f}x the import baseline)",
        )
    )
    print(
        row.format(
            "spawn -> first /corr with numbers (catch-up done):", f"{ready_at - spawned:6.2f} s"
        )
    )
    print(row.format("SIGTERM -> exit:", f"{exit_seconds:6.2f} s"))
    print("resident memory (VmRSS)")
    print(row.format("baseline, modules imported only:", _mib(import_rss)))
    print(row.format("at the first getUpdates:", _mib(rss_polling)))
    print(
        row.format(
            "after the first snapshot:",
            f"{_mib(rss_ready)}  ({rss_ready / import_rss:.2f}x the import baseline)",
        )
    )
    for count, rss, elapsed in samples[:-1]:
        print(row.format(f"  after {count:6d} commands offered ({elapsed:4.0f} s):", _mib(rss)))
    print(row.format(f"after {args.commands} commands answered:", _mib(rss_after)))
    print(
        row.format(
            "growth over the commands:",
            f"{_mib(growth)}  ({growth / max(1, args.commands) * 1000 / 1024:.2f} MiB per "
            f"1,000 commands, {rss_after / rss_ready:.3f}x)",
        )
    )
    print(row.format("peak (VmHWM):", _mib(status_after["VmHWM"])))
    print(
        f"  replies to the commands: {replies} ({replies / max(1, args.commands):.2f} per "
        f"command); exit status {process.returncode}"
    )
    problems = [
        line for line in err.decode().splitlines() if "ERROR" in line or "Traceback" in line
    ]
    if problems:
        print(f"  the bot logged {len(problems)} error line(s); first: {problems[0][:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=10_000, help="commands (default 10000)")
    parser.add_argument("--chats", type=int, default=5_000, help="distinct chats sending them")
    parser.add_argument("--inflight", type=int, default=100, help="most commands unanswered")
    parser.add_argument("--quick", action="store_true", help="a short run: 1000 commands")
    args = parser.parse_args()
    if args.quick:
        args.commands = min(args.commands, 1_000)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
