"""`corrbot fetch`: the table of sources, sessions and staleness, and its exit status."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.calendar import nyse
from tests.fakes.clock import INSTANTS, ProcessClock

#: Wednesday 2026-12-02, 14:00 UTC: Tuesday's session and the crypto close after it are in.
AT = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock() -> Iterator[ProcessClock]:
    """The CLI reads the production clock: the whole process stands at :data:`AT`."""
    with ProcessClock(AT) as clock:
        yield clock


def _recent_sessions(count: int) -> list[str]:
    """The last ``count`` sessions closed at :data:`AT`, by the calendar the code uses."""
    return [ts.date().isoformat() for ts in nyse().recent_closes(count, AT).index]


def _write_csv_universe(folder: Path, dates: list[str]) -> None:
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


def _csv_config(tmp_path: Path, sessions: list[str] | None = None) -> Path:
    _write_csv_universe(tmp_path / "prices", sessions or _recent_sessions(5))
    config = tmp_path / "config.yaml"
    config.write_text(
        "data: {crypto_source: csv, equity_source: csv, csv_dir: prices, history_sessions: 60}\n"
        "storage: {path: corrbot.sqlite3}\n"
    )
    return config


def test_fetch_prints_a_table_per_symbol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`corrbot fetch` prints source, first and last session, rows and staleness per symbol."""
    assert main(["fetch", "--config", str(_csv_config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "symbol  kind    source" in out
    for symbol in ("BTC", "ETH", "PSCT", "IWM", "QQQ"):
        assert f"\n{symbol} " in out
    first, *_, last = _recent_sessions(5)
    assert re.search(rf"PSCT\s+equity\s+csv:PSCT.csv\s+{first}\s+{last}\s+5\s+fresh", out)
    assert (tmp_path / "corrbot.sqlite3").exists()


@pytest.mark.parametrize("instant", list(INSTANTS))
def test_fetch_is_fresh_with_every_session_due_at_every_instant_of_the_clock_matrix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], instant: str
) -> None:
    """With each file holding every session closed by now, no symbol is stale, at any hour."""
    now = INSTANTS[instant]
    with ProcessClock(now):
        sessions = [ts.date().isoformat() for ts in nyse().recent_closes(5, now).index]
        config = _csv_config(tmp_path, sessions)
        assert main(["fetch", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    for symbol in ("BTC", "ETH", "PSCT", "IWM", "QQQ"):
        assert re.search(rf"\n{symbol} .*\sfresh\s", out), out
    assert re.search(rf"csv:PSCT.csv\s+{sessions[0]}\s+{sessions[-1]}\s+5\s+fresh", out), out


def test_fetch_names_the_session_it_waits_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An equity file without the session that closed two hours ago is one session behind."""
    now = INSTANTS["weekday-2h-after-close"]
    with ProcessClock(now):
        sessions = [ts.date().isoformat() for ts in nyse().recent_closes(6, now).index]
        config = _csv_config(tmp_path, sessions)
        psct = tmp_path / "prices" / "PSCT.csv"
        psct.write_text("\n".join(psct.read_text().splitlines()[:-1]) + "\n")
        assert main(["fetch", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\nPSCT .*1 session behind", out), out
    assert "PSCT: stale: no price for 2026-12-01 yet (last price 2026-11-30)" in out


def test_fetch_exits_1_when_a_symbol_cannot_be_refreshed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A symbol whose data could not be had makes fetch exit 1, the table still printed."""
    config = _csv_config(tmp_path)
    (tmp_path / "prices" / "QQQ.csv").unlink()
    assert main(["fetch", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "QQQ: fetch_failed" in out
    assert "QQQ.csv: file not found" in out
