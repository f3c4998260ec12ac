"""``corrbot health``: one line and an exit status for Docker, systemd and Kubernetes probes.

It reads the store the running bot writes and never creates or changes anything: with no
store there is nothing to judge, and that is the answer.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from bot.cli.common import EXIT_FAILED, EXIT_OK, Subparsers
from bot.compose import daily_schedule, open_store
from bot.config import Config, load_configured
from bot.core.clock import utc_now
from bot.core.errors import StoreError
from bot.core.health import HealthLimits, assess
from bot.present.health import health_line, no_store, store_unreadable

__all__ = ["Health", "check_health", "register", "run"]


@dataclass(frozen=True, slots=True)
class Health:
    """The verdict and the one line that explains it."""

    ok: bool
    line: str


def register(commands: Subparsers, parent: argparse.ArgumentParser) -> None:
    """Add ``health`` to the command line."""
    parser = commands.add_parser(
        "health",
        parents=[parent],
        help="exit 0 if the running bot is alive and its daily job on schedule",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the verdict's line; exit 0 when healthy, else 1."""
    verdict = check_health(load_configured(args.config), utc_now())
    print(verdict.line)
    return EXIT_OK if verdict.ok else EXIT_FAILED


def check_health(config: Config, now: dt.datetime) -> Health:
    """Judge the running bot from its store, as of ``now``."""
    path = Path(config.storage.path)
    if not path.exists():
        return Health(False, no_store(path))
    limits = HealthLimits(
        heartbeat=dt.timedelta(seconds=config.health.max_heartbeat_age_seconds),
        poll=dt.timedelta(seconds=config.telegram.poll_timeout_seconds),
        retry_window=dt.timedelta(minutes=config.schedule.retry_for_minutes),
    )
    try:
        with open_store(path) as store:
            verdict = assess(store.meta, daily_schedule(config), limits, now)
    except StoreError as exc:
        return Health(False, store_unreadable(str(exc)))
    return Health(verdict.ok, health_line(verdict))
