"""``corrbot fetch``: refresh the price cache and print what it holds per symbol."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import EXIT_FAILED, EXIT_OK, Subparsers
from bot.compose import build
from bot.config import Config, load_configured
from bot.core.models import SymbolStatus
from bot.present.fetch import fetch_table

__all__ = ["register", "run"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add ``fetch`` to the command line."""
    parser = commands.add_parser(
        "fetch", parents=[parent], help="refresh the price cache and print a table per symbol"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Refresh every symbol; exit 1 if any could not be refreshed."""
    statuses, ok = asyncio.run(_refresh(load_configured(args.config)))
    print(fetch_table(statuses))
    return EXIT_OK if ok else EXIT_FAILED


async def _refresh(config: Config) -> tuple[list[SymbolStatus], bool]:
    async with build(config) as services:
        report = await services.market.refresh()
        return services.market.statuses(services.market.panel()), report.ok
