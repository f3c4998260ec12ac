"""The ``corrbot`` command line (also ``python -m bot``).

Exit status: 0 success, 1 the job ran but something failed (data could not be had),
2 bad usage or configuration (the message names what to fix).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.config import Config, load_config, resolve_config_path
from bot.core.clock import utc_now
from bot.core.errors import ConfigError, CorrbotError
from bot.core.models import SymbolStatus
from bot.core.store import Store
from bot.render import fetch_table
from bot.wiring import build_market_data

__all__ = ["main"]

log = logging.getLogger("bot")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="corrbot",
        description="Watch how tightly crypto moves with US small-cap tech stocks.",
    )
    parser.add_argument("--version", action="version", version=f"corrbot {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fetch = commands.add_parser(
        "fetch", help="refresh the price cache and print a table per symbol"
    )
    fetch.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $CORRBOT_CONFIG or ./config.yaml)",
    )

    demo = commands.add_parser(
        "demo", help="the main job on embedded defaults: no token, no network"
    )
    demo.add_argument(
        "--csv-dir", metavar="DIR", type=Path, help="replay <ticker>.csv files instead"
    )
    demo.add_argument(
        "--seed", type=int, default=7, help="seed of the synthetic market (default 7)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        if args.command == "fetch":
            return _fetch(args)
        if args.command == "demo":
            return _demo(args)
    except ConfigError as exc:
        print(f"corrbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CorrbotError as exc:
        print(f"corrbot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("corrbot: interrupted", file=sys.stderr)
        return 130
    raise AssertionError(f"unhandled command {args.command}")  # argparse guarantees one


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL (which would carry a bot token) at INFO: keep it quiet.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _fetch(args: argparse.Namespace) -> int:
    config = load_config(resolve_config_path(args.config))
    with Store.open(config.storage.path) as store:
        statuses, ok = asyncio.run(_refresh_and_report(config, store))
    print(fetch_table(statuses))
    return EXIT_OK if ok else EXIT_FAILED


async def _refresh_and_report(config: Config, store: Store) -> tuple[list[SymbolStatus], bool]:
    market = build_market_data(config, store, utc_now)
    try:
        report = await market.refresh()
        panel = market.panel()
        return market.statuses(panel), report.ok
    finally:
        await market.close()


def _demo(args: argparse.Namespace) -> int:
    if args.csv_dir is not None:
        data = {"crypto_source": "csv", "equity_source": "csv", "csv_dir": args.csv_dir.resolve()}
        data["crypto_sampling"] = "daily_close"
    else:
        data = {
            "crypto_source": "synthetic",
            "equity_source": "synthetic",
            "synthetic_seed": args.seed,
        }
    with tempfile.TemporaryDirectory(prefix="corrbot-demo-") as folder:
        config = Config.model_validate(
            {"data": data, "storage": {"path": Path(folder) / "demo.sqlite3"}}
        )
        with Store.open(config.storage.path) as store:
            statuses, ok = asyncio.run(_refresh_and_report(config, store))
    origin = (
        f"CSV files in {args.csv_dir}" if args.csv_dir else f"a synthetic market (seed {args.seed})"
    )
    print(f"corrbot {__version__} demo: {len(statuses)} symbols from {origin}\n")
    print(fetch_table(statuses))
    return EXIT_OK if ok else EXIT_FAILED
