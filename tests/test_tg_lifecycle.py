"""The running bot's start-up and shutdown hooks, against the fake Bot API."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.bot_harness import running_bot, until


async def test_menu_is_registered_at_start_up(tmp_path: Path) -> None:
    """set_my_commands publishes the command menu when the bot starts."""
    async with running_bot(tmp_path, ready=False) as bot:
        await until(lambda: bot.server.calls("setMyCommands"), what="setMyCommands")
        names = [c["command"] for c in bot.server.calls("setMyCommands")[0].params["commands"]]
    assert {"corr", "chart", "alerts", "settings", "subscribe", "stop", "help", "about"} <= set(
        names
    )
