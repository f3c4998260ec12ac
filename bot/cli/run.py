"""``corrbot run``: the Telegram bot, until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import Subparsers, operational_logging, token
from bot.config import load_configured

__all__ = ["register", "run"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add ``run`` to the command line."""
    parser = commands.add_parser(
        "run", parents=[parent], help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the bot; 0 on a clean stop, 2 on a rejected token, 3 if another instance polls."""
    from bot.tg.app import run_bot  # python-telegram-bot is imported by this command only

    config = load_configured(args.config)
    secret = token()
    operational_logging(config, args.verbose)
    return asyncio.run(run_bot(config, secret))
