"""``corrbot backtest``: history through the engine the live bot uses, written out as files."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, iso_date
from bot.cli.history import replay, with_history_from, write_outputs
from bot.config import load_configured
from bot.core.errors import ConfigError
from bot.present.reports import backtest_report

__all__ = ["register", "run"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add ``backtest`` to the command line."""
    parser = commands.add_parser(
        "backtest",
        parents=[parent],
        help="run history through the alert engine and write CSVs and a chart",
    )
    parser.add_argument("--start", type=iso_date, metavar="DATE", help="first session")
    parser.add_argument("--end", type=iso_date, metavar="DATE", help="last session")
    parser.add_argument("--out", type=Path, metavar="DIR", required=True, help="output folder")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Replay, write the files, print the summary; exit 1 if a symbol could not be refreshed."""
    config = load_configured(args.config)
    if args.start and args.end and args.start > args.end:
        raise ConfigError(f"--start {args.start} is after --end {args.end}")
    config = with_history_from(config, args.start)
    result, ok, sampled = asyncio.run(replay(config, args.start, args.end))
    write_outputs(config, result, args.out)
    print(backtest_report(result, sampled, args.out))
    return EXIT_OK if ok else EXIT_FAILED
