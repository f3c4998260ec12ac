"""What the command-line tests share: the instant they run at, and a small CSV market.

The commands read the production clock, so each CLI test module imports :func:`at_clock`
(an autouse fixture: the whole process stands at :data:`AT`) and asks the calendar the code
uses for the sessions it expects (:func:`recent_sessions`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.calendar import nyse
from tests.fakes.clock import ProcessClock

__all__ = ["AT", "at_clock", "csv_config", "recent_sessions", "write_csv_universe"]

#: Wednesday 2026-12-02, 14:00 UTC: Tuesday's session and the crypto close after it are in.
AT = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def at_clock() -> Iterator[ProcessClock]:
    """The CLI reads the production clock: the whole process stands at :data:`AT`."""
    with ProcessClock(AT) as clock:
        yield clock


def recent_sessions(count: int) -> list[str]:
    """The last ``count`` sessions closed at :data:`AT`, by the calendar the code uses."""
    return [ts.date().isoformat() for ts in nyse().recent_closes(count, AT).index]


def write_csv_universe(folder: Path, dates: list[str]) -> None:
    """``<ticker>.csv`` files of the default universe, one rising close per date."""
    folder.mkdir()
    for ticker, base in [
        ("BTC-USD", 90_000.0),
        ("ETH-USD", 3_500.0),
        ("PSCT", 45.0),
        ("IWM", 230.0),
        ("QQQ", 505.0),
    ]:
        rows = "\n".join(f"{d},{base + i}" for i, d in enumerate(dates))
        (folder / f"{ticker}.csv").write_text(f"date,close\n{rows}\n")


def csv_config(tmp_path: Path, sessions: list[str] | None = None) -> Path:
    """A config reading those files (the last five sessions by default) into a store there."""
    write_csv_universe(tmp_path / "prices", sessions or recent_sessions(5))
    config = tmp_path / "config.yaml"
    config.write_text(
        "data: {crypto_source: csv, equity_source: csv, csv_dir: prices, history_sessions: 60}\n"
        "storage: {path: corrbot.sqlite3}\n"
    )
    return config
