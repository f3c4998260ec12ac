"""``corrbot check``: the daily job once (refresh, compute, alert, deliver), for cron.

``--dry-run`` prints what would be sent and records nothing; it needs no token.
"""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import EXIT_FAILED, EXIT_OK, Subparsers, operational_logging, token
from bot.compose import Services, build
from bot.config import load_configured
from bot.present import reports

__all__ = ["register", "run"]


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add ``check`` to the command line."""
    parser = commands.add_parser(
        "check",
        parents=[parent],
        help="run the daily job once (refresh, compute, alert, deliver) and exit",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be sent; record and send nothing"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the job; exit 1 if data was missing or a delivery failed for good."""
    config = load_configured(args.config)
    secret = None if args.dry_run else token()
    operational_logging(config, args.verbose)
    return asyncio.run(_check(build(config), secret))


async def _check(services: Services, secret: str | None) -> int:
    async with services:
        if secret is None:
            return await _preview(services)
        from bot.tg.oneshot import deliver_once  # Telegram only when something is sent

        result = await services.service.check_now()
        delivered = await deliver_once(services, secret)
        print(reports.check_summary(result, delivered))
        for line in result.problems():
            print(f"! {line}")
        return EXIT_OK if result.ok and not delivered.failed else EXIT_FAILED


async def _preview(services: Services) -> int:
    report, evaluation, fresh = await services.service.preview()
    print(reports.dry_run(evaluation.snapshot, fresh))
    problems = [f"{s}: {e}" for s, e in report.errors.items()]
    problems += [f"{p} held back: {i}" for p, v in evaluation.held_back.items() for i in v]
    for line in problems:
        print(f"! {line}")
    return EXIT_OK if not problems else EXIT_FAILED
