"""``corrbot calibrate``: each rule's alert rate on history beside its false-alarm rate on nulls.

Prints, per period, pair and rule, alerts per year on the real history beside the mean and
90% range on null histories whose correlation never changes, lists the alerts the real
history sends, and writes every rate as CSV. The core computes; the progress bar (stderr,
only on a terminal) and the layout are the command's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from bot.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, iso_date
from bot.cli.history import load_history, replaying_files, sampled, with_history_from
from bot.compose import alert_settings
from bot.config import Config, load_config, resolve_config_path
from bot.core.calibration import NULLS, CalibrationResult, Period, calibrate
from bot.core.engine import AlertEngine
from bot.core.errors import ConfigError
from bot.present.reports import calibration_report

__all__ = ["register", "run"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add ``calibrate`` to the command line."""
    parser = commands.add_parser(
        "calibrate",
        parents=[parent],
        help="alert rates on history beside the false-alarm rates on nulls of it",
        description=(
            "Run the configured rules over the real history and over null histories whose "
            "correlation never changes; print alerts per year, real vs null, and write a CSV."
        ),
    )
    parser.add_argument(
        "--csv-dir", metavar="DIR", type=Path, help="read <ticker>.csv files instead"
    )
    parser.add_argument(
        "--paths", type=int, default=1000, metavar="N", help="null histories (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=2025, help="seed of the nulls")
    parser.add_argument("--start", type=iso_date, metavar="DATE", help="first session")
    parser.add_argument("--end", type=iso_date, metavar="DATE", help="last session")
    parser.add_argument(
        "--split",
        type=iso_date,
        metavar="DATE",
        help="report in-sample before DATE and out-of-sample from it",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        default=Path("calibration.csv"),
        help="CSV of every rate (default ./calibration.csv)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Calibrate; exit 1 if a symbol could not be refreshed."""
    if args.paths < 1:
        raise ConfigError(f"--paths must be at least 1 (got {args.paths})")
    if args.start and args.end and args.start > args.end:
        raise ConfigError(f"--start {args.start} is after --end {args.end}")
    path = resolve_config_path(args.config)
    if args.csv_dir is None or args.config is not None or path.exists():
        config = load_config(path)
    else:  # replaying files needs no configuration: the defaults, as `corrbot demo`
        config = Config()
    config = with_history_from(config, args.start)
    with tempfile.TemporaryDirectory(prefix="corrbot-calibrate-") as folder:
        if args.csv_dir is not None:  # the files, through a throwaway price cache
            config = replaying_files(config, args.csv_dir, Path(folder) / "prices.sqlite3")
        panel, sampling, refreshed = asyncio.run(load_history(config))
    returns = panel.returns
    if returns.empty or not returns.notna().any(axis=None):
        raise ConfigError("no returns to calibrate on: the store holds no usable prices")
    sessions = pd.DatetimeIndex(returns.index[returns.notna().any(axis=1)])
    first = args.start or sessions[0].date()
    last = args.end or sessions[-1].date()
    periods = _periods(first, last, args.split)
    pairs = ", ".join(str(pair) for pair in config.alert_pairs)
    print(f"Calibration of {pairs}, {first} to {last}: {args.paths} null histories per null.")
    print(f"Sampling: {sampled(config, sampling)}")
    result = _calibrated(
        config, returns.loc[: pd.Timestamp(last)], periods, paths=args.paths, seed=args.seed
    )
    print(calibration_report(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result.frame().to_csv(args.out, index=False)
    print(f"\nWrote {args.out}")
    return EXIT_OK if refreshed else EXIT_FAILED


def _periods(first: date, last: date, split: date | None) -> list[Period]:
    if split is None:
        return [Period("all", first, last)]
    if not first < split <= last:
        raise ConfigError(
            f"--split {split} must fall after the first session ({first}) and on or before "
            f"the last ({last})"
        )
    return [
        Period("in-sample", first, split - timedelta(days=1)),
        Period("out-of-sample", split, last),
    ]


def _calibrated(
    config: Config, returns: pd.DataFrame, periods: list[Period], *, paths: int, seed: int
) -> CalibrationResult:
    from tqdm import tqdm

    engine = AlertEngine(alert_settings(config))
    total = paths * len(NULLS) * len(config.alert_pairs)
    with tqdm(
        total=total, unit="path", desc="nulls", disable=not sys.stderr.isatty(), leave=False
    ) as bar:

        def advance(done: int) -> None:
            bar.update(done)

        try:
            return calibrate(
                engine,
                returns,
                config.alert_pairs,
                periods,
                paths=paths,
                seed=seed,
                progress=advance,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
