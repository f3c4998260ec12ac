"""``python -m tests.fakes.clocked INSTANT ARGS...``: ``python -m bot ARGS`` on another clock.

The process's clock (``datetime.now``, ``time.time``, in every thread) starts at INSTANT (ISO
8601 with an offset) and runs on from there in real time, through time-machine. Nothing in
corrbot knows: its clock seam reads the time as in production. A test that spawns the bot
this way knows which sessions have closed, whatever the hour the suite runs at.
"""

from __future__ import annotations

import runpy
import sys
from datetime import datetime

import time_machine


def main() -> None:
    """Travel to ``argv[1]`` and run the ``bot`` package as ``__main__`` with the rest."""
    instant = datetime.fromisoformat(sys.argv[1])
    if instant.tzinfo is None:
        raise SystemExit(f"{sys.argv[1]!r}: give the instant with its UTC offset")
    sys.argv = ["corrbot", *sys.argv[2:]]
    with time_machine.travel(instant, tick=True):
        runpy.run_module("bot", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
