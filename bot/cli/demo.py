"""``corrbot demo``: the whole engine on embedded defaults, no token and no network.

A synthetic market with known correlations (or ``<ticker>.csv`` files) goes through a
throwaway store and the engine the live bot uses; the newcomer sees the per-year table, the
last alerts as a subscriber reads them, today's ``/corr`` reply and the charts.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from bot import __version__
from bot.cli.common import EXIT_FAILED, EXIT_OK, Subparsers
from bot.cli.history import DEMO_HISTORY, replay, write_outputs
from bot.config import Config
from bot.present.reports import demo_report

__all__ = ["register", "run"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add ``demo`` to the command line (it reads no configuration: ``parent`` is unused)."""
    del parent
    parser = commands.add_parser(
        "demo", help="the main job on embedded defaults: no token, no network"
    )
    parser.add_argument("--csv-dir", metavar="DIR", type=Path, help="replay <ticker>.csv files")
    parser.add_argument("--seed", type=int, default=7, help="synthetic market seed (default 7)")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=Path("corrbot-demo"),
        help="where the chart and CSVs go (default ./corrbot-demo)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Replay the demo market, write the files, print what a subscriber would have read."""
    data: dict[str, object]
    if args.csv_dir is not None:
        data = {"crypto_source": "csv", "equity_source": "csv", "csv_dir": args.csv_dir.resolve()}
        origin = f"the CSV files in {args.csv_dir}"
    else:
        data = {"crypto_source": "synthetic", "equity_source": "synthetic"}
        data["synthetic_seed"] = args.seed
        origin = f"a synthetic market (seed {args.seed}, no network)"
    data["history_sessions"] = DEMO_HISTORY
    with tempfile.TemporaryDirectory(prefix="corrbot-demo-") as folder:
        storage = {"path": Path(folder) / "demo.sqlite3"}
        config = Config.model_validate({"data": data, "storage": storage})
        result, ok, sampled = asyncio.run(replay(config, None, None))
    write_outputs(config, result, args.out)
    print(demo_report(result, origin=origin, sampled=sampled, version=__version__, out=args.out))
    return EXIT_OK if ok else EXIT_FAILED
