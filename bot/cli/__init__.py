"""The ``corrbot`` command line (also ``python -m bot``): one module per command.

Each command module has ``register(commands, parent)``, which adds its subparser (taking
``--config`` from the shared ``parent``) and sets its ``run`` as the handler. Exit status:
0 success, 1 the job ran but something failed (data could not be had), 2 bad usage or
configuration (the message names what to fix), 3 (``run``) another instance polls the
same token.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from bot import __version__
from bot.cli import backtest, calibrate, check, demo, fetch, health, run
from bot.cli.common import EXIT_FAILED, EXIT_USAGE, config_parent, configure_quiet_logging
from bot.core.errors import ConfigError, CorrbotError
from bot.logsetup import redact

__all__ = ["main"]

#: In the order ``corrbot --help`` lists them.
_COMMANDS = (fetch, run, check, health, backtest, calibrate, demo)


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
    parent = config_parent()
    for command in _COMMANDS:
        command.register(commands, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    args = _parser().parse_args(argv)
    configure_quiet_logging(args.verbose)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
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
