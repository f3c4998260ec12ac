"""The ``corrbot`` command line (also ``python -m bot``).

Exit status: 0 success, 1 the job ran but something failed (data could not be had),
2 bad usage or configuration (the message names what to fix).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bot import __version__
from bot.calibration_report import run_calibration, sampling_text
from bot.config import Config, load_config, load_configured, resolve_config_path
from bot.core.backtest import BacktestResult, run_backtest
from bot.core.calendar import nyse
from bot.core.clock import utc_now
from bot.core.errors import ConfigError, CorrbotError
from bot.core.messages import fmt_corr, render_text, snapshot_message
from bot.core.models import SymbolStatus
from bot.core.panel import Panel
from bot.core.sampling import Sampling
from bot.core.service import CorrService
from bot.core.snapshot import Snapshot
from bot.core.store import Store
from bot.logsetup import configure_logging, redact
from bot.render import fetch_table
from bot.render import table as render_table
from bot.wiring import build_evaluator, build_market_data

if TYPE_CHECKING:
    from bot.tg.delivery import DrainReport

__all__ = ["main"]

log = logging.getLogger("bot")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"  # noqa: S105 - the variable's name, not a secret
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

    run = commands.add_parser("run", help="run the Telegram bot (needs TELEGRAM_BOT_TOKEN)")
    run.add_argument("--config", metavar="PATH", help="configuration file")

    check = commands.add_parser(
        "check", help="run the daily job once (refresh, compute, alert, deliver) and exit"
    )
    check.add_argument("--config", metavar="PATH", help="configuration file")
    check.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; record and send nothing"
    )

    health = commands.add_parser(
        "health", help="exit 0 if the running bot is alive and its daily job on schedule"
    )
    health.add_argument("--config", metavar="PATH", help="configuration file")

    backtest = commands.add_parser(
        "backtest", help="run history through the alert engine and write CSVs and a chart"
    )
    backtest.add_argument("--config", metavar="PATH", help="configuration file")
    backtest.add_argument("--start", type=_iso_date, metavar="DATE", help="first session")
    backtest.add_argument("--end", type=_iso_date, metavar="DATE", help="last session")
    backtest.add_argument("--out", type=Path, metavar="DIR", required=True, help="output folder")

    calibrate = commands.add_parser(
        "calibrate",
        help="alert rates on history beside the false-alarm rates on nulls of it",
        description=(
            "Run the configured rules over the real history and over null histories whose "
            "correlation never changes; print alerts per year, real vs null, and write a CSV."
        ),
    )
    calibrate.add_argument("--config", metavar="PATH", help="configuration file")
    calibrate.add_argument(
        "--csv-dir", metavar="DIR", type=Path, help="read <ticker>.csv files instead"
    )
    calibrate.add_argument(
        "--paths", type=int, default=1000, metavar="N", help="null histories (default 1000)"
    )
    calibrate.add_argument("--seed", type=int, default=2025, help="seed of the nulls")
    calibrate.add_argument("--start", type=_iso_date, metavar="DATE", help="first session")
    calibrate.add_argument("--end", type=_iso_date, metavar="DATE", help="last session")
    calibrate.add_argument(
        "--split",
        type=_iso_date,
        metavar="DATE",
        help="report in-sample before DATE and out-of-sample from it",
    )
    calibrate.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        default=Path("calibration.csv"),
        help="CSV of every rate (default ./calibration.csv)",
    )

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
    commands = {
        "fetch": _fetch,
        "run": _run,
        "check": _check,
        "health": _health,
        "backtest": _backtest,
        "calibrate": _calibrate,
        "demo": _demo,
    }
    try:
        return commands[args.command](args)
    except ConfigError as exc:  # may quote config.yaml, where a token does not belong
        print(f"corrbot: {redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except CorrbotError as exc:
        print(f"corrbot: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("corrbot: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug: the traceback goes through the redacting log formatter
        logging.getLogger("bot").exception("corrbot %s failed unexpectedly", args.command)
        return EXIT_FAILED


def _configure_logging(verbosity: int) -> None:
    token = os.environ.get(TOKEN_ENV, "")
    configure_logging(verbosity, secrets=[token] if token else [])


def _fetch(args: argparse.Namespace) -> int:
    config = load_configured(args.config)
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


BOTFATHER_HELP = (
    "TELEGRAM_BOT_TOKEN is not set. Create a bot by talking to @BotFather in Telegram "
    "(/newbot), then: export TELEGRAM_BOT_TOKEN='<the token it gives you>'. "
    "`corrbot demo` needs no token."
)


def _token() -> str:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(BOTFATHER_HELP)
    return token


def _operational_logging(config: Config, verbosity: int) -> None:
    """Long-running and cron commands log as configured (JSON lines in a container)."""
    token = os.environ.get(TOKEN_ENV, "")
    configure_logging(
        verbosity,
        secrets=[token] if token else [],
        level=config.logging.level,
        json_lines=config.logging.format == "json",
    )


def _run(args: argparse.Namespace) -> int:
    from bot.tg.app import run_bot

    config = load_configured(args.config)
    token = _token()
    _operational_logging(config, args.verbose)
    return asyncio.run(run_bot(config, token))


def _health(args: argparse.Namespace) -> int:
    from bot.health import check_health

    config = load_configured(args.config)
    verdict = check_health(config, utc_now())
    print(verdict.line)
    return EXIT_OK if verdict.ok else EXIT_FAILED


def _check(args: argparse.Namespace) -> int:
    config = load_configured(args.config)
    token = None if args.dry_run else _token()
    _operational_logging(config, args.verbose)
    with Store.open(config.storage.path) as store:
        return asyncio.run(_check_once(config, store, token))


async def _check_once(config: Config, store: Store, token: str | None) -> int:
    market = build_market_data(config, store, utc_now)
    service = CorrService(store, market, build_evaluator(config), clock=utc_now)
    try:
        if token is None:
            report, evaluation, fresh = await service.preview()
            print(f"Dry run: data as of {_as_of(evaluation.snapshot)}; nothing recorded or sent.")
            for key, message, recipients in fresh:
                print(f"\n--- {key}: to {recipients} chat(s) ---\n{render_text(message)}")
            if not fresh:
                print("No new alert would be sent.")
            problems = [f"{s}: {e}" for s, e in report.errors.items()]
            problems += [f"{p} held back: {i}" for p, v in evaluation.held_back.items() for i in v]
            for line in problems:
                print(f"! {line}")
            return EXIT_OK if not problems else EXIT_FAILED
        result = await service.check_now()
        delivered = await _deliver(config, service, token)
        if delivered.left_to is not None:
            print(
                f"Data as of {_as_of(result.snapshot)}: {len(result.recorded)} new alert(s) "
                f"recorded; deliveries left to the running bot (sender {delivered.left_to} "
                "holds this store), which sends them."
            )
        else:
            print(
                f"Data as of {_as_of(result.snapshot)}: {len(result.recorded)} new alert(s); "
                f"deliveries: {delivered.sent} sent, {delivered.retried} to retry, "
                f"{delivered.failed} failed, {delivered.dropped} dropped (chat gone)."
            )
        for line in result.problems():
            print(f"! {line}")
        return EXIT_OK if result.ok and not delivered.failed else EXIT_FAILED
    finally:
        await service.close()


def _as_of(snapshot: Snapshot | None) -> str:
    return "n/a" if snapshot is None else snapshot.as_of.isoformat()


async def _deliver(config: Config, service: CorrService, token: str) -> DrainReport:
    from telegram.error import InvalidToken
    from telegram.ext import ExtBot

    from bot.tg.delivery import Sender
    from bot.tg.ratelimit import PacedRateLimiter

    bot = ExtBot(
        token,
        base_url=config.telegram.api_base_url,
        base_file_url=config.telegram.base_file_url,
        rate_limiter=PacedRateLimiter(per_second=config.delivery.messages_per_second),
    )
    try:
        await bot.initialize()
    except InvalidToken:
        await bot.shutdown()
        raise ConfigError(
            f"Telegram rejected the bot token in {TOKEN_ENV}: check it with @BotFather; "
            "the alerts recorded wait in the store and go out at the next run with a good token"
        ) from None
    async with bot:
        sender = Sender(
            bot,
            service,
            max_attempts=config.delivery.max_attempts,
            concurrency=config.delivery.concurrency,
            admins=config.telegram.admins,
        )
        # Beside a running bot the lease is its: the drain sends nothing and says so.
        return await sender.drain(within=300.0)


def _backtest(args: argparse.Namespace) -> int:
    config = load_configured(args.config)
    if args.start and args.end and args.start > args.end:
        raise ConfigError(f"--start {args.start} is after --end {args.end}")
    config = _with_history_from(config, args.start)
    with Store.open(config.storage.path) as store:
        result, ok, sampled = asyncio.run(_replay(config, store, args.start, args.end))
    _write_outputs(config, result, args.out)
    pushed = sum(alert.notify for alert, _ in result.evaluation.alerts)
    follow_ups = len(result.evaluation.alerts) - pushed
    print(
        f"Backtest {result.start} to {result.end}: {pushed} alerts pushed, "
        f"{follow_ups} silent follow-ups; {sampled}"
    )
    print(_per_year_text(result))
    written = ", ".join(str(args.out / name) for name in ("correlations.csv", "alerts.csv"))
    print(f"\nWrote {written}, {args.out / 'chart.png'} and {args.out / 'comparison.png'}")
    return EXIT_OK if ok else EXIT_FAILED


def _calibrate(args: argparse.Namespace) -> int:

    if args.paths < 1:
        raise ConfigError(f"--paths must be at least 1 (got {args.paths})")
    if args.start and args.end and args.start > args.end:
        raise ConfigError(f"--start {args.start} is after --end {args.end}")
    path = resolve_config_path(args.config)
    if args.csv_dir is None or args.config is not None or path.exists():
        config = load_config(path)
    else:  # replaying files needs no configuration: the defaults, as `corrbot demo`
        config = Config()
    config = _with_history_from(config, args.start)
    with tempfile.TemporaryDirectory(prefix="corrbot-calibrate-") as folder:
        if args.csv_dir is not None:  # the files, through a throwaway price cache
            config = _replaying(config, args.csv_dir, Path(folder) / "prices.sqlite3")
        with Store.open(config.storage.path) as store:
            panel, sampling, refreshed = asyncio.run(_history(config, store))
    ok = run_calibration(
        config,
        panel.returns,
        sampling=sampling,
        paths=args.paths,
        seed=args.seed,
        start=args.start,
        end=args.end,
        split=args.split,
        out=args.out,
    )
    return EXIT_OK if ok and refreshed else EXIT_FAILED


def _replaying(config: Config, csv_dir: Path, store: Path) -> Config:
    data = {
        "crypto_source": "csv",
        "equity_source": "csv",
        "csv_dir": csv_dir.resolve(),
        "history_sessions": max(config.data.history_sessions, DEMO_HISTORY),
    }
    return config.model_copy(
        update={
            "data": config.data.model_copy(update=data),
            "storage": config.storage.model_copy(update={"path": store}),
        }
    )


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


async def _history(config: Config, store: Store) -> tuple[Panel, dict[str, Sampling], bool]:
    """Refresh the price cache, then the panel of returns and how each asset was sampled."""
    market = build_market_data(config, store, utc_now)
    try:
        report = await market.refresh()
    finally:
        await market.close()
    for symbol, error in report.errors.items():
        print(f"corrbot: warning: {symbol} was not refreshed: {error}", file=sys.stderr)
    return market.panel(), market.sampling, report.ok


async def _replay(
    config: Config, store: Store, start: date | None, end: date | None
) -> tuple[BacktestResult, bool, str]:
    panel, sampling, ok = await _history(config, store)
    result = await asyncio.to_thread(
        run_backtest, build_evaluator(config), panel.returns, start=start, end=end
    )
    return result, ok, sampling_text(config, sampling)


def _write_outputs(config: Config, result: BacktestResult, folder: Path) -> None:
    from bot.charts import comparison_chart, correlation_chart

    result.write(folder)
    evaluation = result.evaluation
    headline = config.alert_pairs[0]
    labels = config.labels
    bands = config.alerts.regime.settings().bands
    alerts = [alert for alert, _ in evaluation.alerts]
    valid = pd.DatetimeIndex(
        evaluation.analytics.series(headline, config.analysis.headline_window).dropna().index
    )
    since = max(result.start, valid[0].date()) if len(valid) else result.start
    (folder / "chart.png").write_bytes(
        correlation_chart(
            evaluation.analytics,
            headline,
            bands=bands,
            alerts=alerts,
            since=since,
            labels=labels,
        )
    )
    (folder / "comparison.png").write_bytes(
        comparison_chart(
            evaluation.analytics,
            headline.crypto,
            window=config.analysis.headline_window,
            since=since,
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
            result, ok, sampled = asyncio.run(_replay(config, store, None, None))
    _write_outputs(config, result, args.out)
    evaluation = result.evaluation
    pushed = [(alert, message) for alert, message in evaluation.alerts if alert.notify]
    follow_ups = len(evaluation.alerts) - len(pushed)
    print(f"corrbot {__version__} demo: {origin}, {result.start} to {result.end}")
    print(f"{sampled}\n")
    print(f"Per year: mean {config.analysis.headline_window}-session correlation and alerts")
    print(_per_year_text(result))
    shown = pushed[-DEMO_ALERTS_SHOWN:]
    print(
        f"\n{len(pushed)} alerts pushed in all (and {follow_ups} silent follow-ups); "
        f"the last {len(shown)} as a subscriber reads them:"
    )
    for _, message in shown:
        print("\n" + _indent(render_text(message)))
    if evaluation.snapshot is not None:
        print("\nThe /corr reply today:\n")
        print(_indent(render_text(snapshot_message(evaluation.snapshot))))
    out = args.out
    print(f"\nChart: {(out / 'chart.png').resolve()}")
    print(f"Also: {out / 'comparison.png'}, {out / 'alerts.csv'}, {out / 'correlations.csv'}")
    return EXIT_OK if ok else EXIT_FAILED


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else "" for line in text.splitlines())
