"""What every command shares: exit codes, the ``--config`` option, the token, logging."""

from __future__ import annotations

import argparse
import os
from datetime import date
from typing import TypeAlias

from bot.config import Config
from bot.core.errors import ConfigError
from bot.logsetup import configure_logging
from bot.present.reports import BOTFATHER_HELP

__all__ = [
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "TOKEN_ENV",
    "Subparsers",
    "config_parent",
    "configure_quiet_logging",
    "iso_date",
    "operational_logging",
    "token",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"  # noqa: S105 - the variable's name, not a secret
#: What ``add_subparsers`` returns (argparse names no public type for it).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def config_parent() -> argparse.ArgumentParser:
    """The ``--config`` option, shared by every command that reads a configuration."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        metavar="PATH",
        help="configuration file (default: $CORRBOT_CONFIG or ./config.yaml)",
    )
    return parent


def iso_date(text: str) -> date:
    """An argparse type: a ``YYYY-MM-DD`` date, or a usage error that says so."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def token() -> str:
    """The bot token from the environment (stripped), or a usage error that says how to get one."""
    value = os.environ.get(TOKEN_ENV, "").strip()
    if not value:
        raise ConfigError(BOTFATHER_HELP)
    return value


def _secrets() -> list[str]:
    value = os.environ.get(TOKEN_ENV, "")
    return [value] if value else []


def configure_quiet_logging(verbosity: int) -> None:
    """Terminal logging before the configuration is read: warnings, or more with ``-v``."""
    configure_logging(verbosity, secrets=_secrets())


def operational_logging(config: Config, verbosity: int) -> None:
    """Long-running and cron commands log as configured (JSON lines in a container)."""
    configure_logging(
        verbosity,
        secrets=_secrets(),
        level=config.logging.level,
        json_lines=config.logging.format == "json",
    )
