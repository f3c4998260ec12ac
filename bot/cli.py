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
from datetime import date
from pathlib import Path

from bot import __version__
from bot.config import Config, load_config, resolve_config_path
from bot.core.backtest import BacktestResult, run_backtest
from bot.core.calendar import nyse
from bot.core.clock import utc_now
from bot.core.errors import ConfigError, CorrbotError
from bot.core.messages import fmt_corr, render_text, snapshot_message
from bot.core.models import SymbolStatus
from bot.core.regimes import RegimeBands
from bot.core.store import Store
from bot.render import fetch_table
from bot.render import table as render_table
from bot.wiring import build_evaluator, build_market_data

__all__ = ["main"]

log = logging.getLogger("bot")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MAX_HISTORY = 10_000  # sessions; the calendar starts in 2000
DEMO_HISTORY = 4_000  # sessions: the whole synthetic history (2015 on) or the CSV files
DEMO_ALERTS_SHOWN = 3


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

    backtest = commands.add_parser(
        "backtest", help="run history through the alert engine and write CSVs and a chart"
    )
    backtest.add_argument("--config", metavar="PATH", help="configuration file")
    backtest.add_argument("--start", type=_iso_date, metavar="DATE", help="first session")
    backtest.add_argument("--end", type=_iso_date, metavar="DATE", help="last session")
    backtest.add_argument("--out", type=Path, metavar="DIR", required=True, help="output folder")

    demo = commands.add_parser(
        "demo", help="the main job on embedded defaults: no token, no network"
    )
    demo.add_argument("--csv-dir", metavar="DIR", type=Path, help="replay <ticker>.csv files")
    demo.add_argument("--seed", type=int, default=7, help="synthetic market seed (default 7)")
    demo.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        default=Path("corrbot-demo"),
        help="where the chart and CSVs go (default ./corrbot-demo)",
    )
    return parser


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        if args.command == "fetch":
            return _fetch(args)
        if args.command == "backtest":
            return _backtest(args)
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


def _backtest(args: argparse.Namespace) -> int:
    config = load_config(resolve_config_path(args.config))
    if args.start and args.end and args.start > args.end:
        raise ConfigError(f"--start {args.start} is after --end {args.end}")
    config = _with_history_from(config, args.start)
    with Store.open(config.storage.path) as store:
        result, ok = asyncio.run(_replay(config, store, args.start, args.end))
    _write_outputs(config, result, args.out)
    print(f"Backtest {result.start} to {result.end}: {len(result.evaluation.alerts)} alerts")
    print(_per_year_text(result))
    written = ", ".join(str(args.out / name) for name in ("correlations.csv", "alerts.csv"))
    print(f"\nWrote {written}, {args.out / 'chart.png'} and {args.out / 'comparison.png'}")
    return EXIT_OK if ok else EXIT_FAILED


def _with_history_from(config: Config, start: date | None) -> Config:
    """Keep enough sessions for a backtest from ``start``, warm-up windows included."""
    if start is None:
        return config
    calendar = nyse()
    warmup = 2 * max(config.analysis.windows) + 5
    last = calendar.last_closed_session(utc_now()) or start
    needed = calendar.sessions_after(start, last) + 1 + warmup
    history = min(max(needed, config.data.history_sessions), MAX_HISTORY)
    return config.model_copy(
        update={"data": config.data.model_copy(update={"history_sessions": history})}
    )


async def _replay(
    config: Config, store: Store, start: date | None, end: date | None
) -> tuple[BacktestResult, bool]:
    market = build_market_data(config, store, utc_now)
    try:
        report = await market.refresh()
    finally:
        await market.close()
    for symbol, error in report.errors.items():
        print(f"corrbot: warning: {symbol} was not refreshed: {error}", file=sys.stderr)
    panel = market.panel()
    result = await asyncio.to_thread(
        run_backtest, build_evaluator(config), panel.returns, start=start, end=end
    )
    return result, report.ok


def _write_outputs(config: Config, result: BacktestResult, folder: Path) -> None:
    from bot.charts import comparison_chart, correlation_chart

    result.write(folder)
    evaluation = result.evaluation
    headline = config.alert_pairs[0]
    labels = config.labels
    bands = RegimeBands(
        edges=config.alerts.regime.edges, hysteresis=config.alerts.regime.hysteresis
    )
    alerts = [alert for alert, _ in evaluation.alerts]
    (folder / "chart.png").write_bytes(
        correlation_chart(
            evaluation.analytics,
            headline,
            bands=bands,
            alerts=alerts,
            since=result.start,
            labels=labels,
        )
    )
    (folder / "comparison.png").write_bytes(
        comparison_chart(
            evaluation.analytics,
            headline.crypto,
            window=config.analysis.headline_window,
            since=result.start,
            labels=labels,
        )
    )


def _per_year_text(result: BacktestResult) -> str:
    table = result.per_year()
    headers = ["year", *[str(c) for c in table.columns]]
    rows = [
        [
            str(year),
            *(fmt_corr(float(v)) if isinstance(v, float) else str(v) for v in row),
        ]
        for year, row in zip(table.index, table.itertuples(index=False), strict=True)
    ]
    return render_table(headers, rows, right=tuple(range(1, len(headers))))


def _demo(args: argparse.Namespace) -> int:
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
        with Store.open(config.storage.path) as store:
            result, ok = asyncio.run(_replay(config, store, None, None))
    _write_outputs(config, result, args.out)
    evaluation = result.evaluation
    alerts = evaluation.alerts
    print(f"corrbot {__version__} demo: {origin}, {result.start} to {result.end}\n")
    print(f"Per year: mean {config.analysis.headline_window}-session correlation and alerts")
    print(_per_year_text(result))
    shown = alerts[-DEMO_ALERTS_SHOWN:]
    print(f"\n{len(alerts)} alerts in all; the last {len(shown)} as a subscriber reads them:")
    for _, message in shown:
        print("\n" + _indent(message))
    if evaluation.snapshot is not None:
        print("\nThe /corr reply today:\n")
        print(_indent(render_text(snapshot_message(evaluation.snapshot))))
    out = args.out
    print(f"\nChart: {(out / 'chart.png').resolve()}")
    print(f"Also: {out / 'comparison.png'}, {out / 'alerts.csv'}, {out / 'correlations.csv'}")
    return EXIT_OK if ok else EXIT_FAILED


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else "" for line in text.splitlines())
