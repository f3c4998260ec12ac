"""`corrbot fetch`: the table of sources, sessions and staleness, and its exit status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.core.calendar import nyse
from tests.fakes.cli import (
    at_clock,  # noqa: F401 - the autouse fixture: the process stands at AT
    csv_config,
    recent_sessions,
)
from tests.fakes.clock import INSTANTS, ProcessClock


def test_fetch_prints_a_table_per_symbol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`corrbot fetch` prints source, first and last session, rows and staleness per symbol."""
    assert main(["fetch", "--config", str(csv_config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "symbol  kind    source" in out
    for symbol in ("BTC", "ETH", "PSCT", "IWM", "QQQ"):
        assert f"\n{symbol} " in out
    first, *_, last = recent_sessions(5)
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
        config = csv_config(tmp_path, sessions)
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
        config = csv_config(tmp_path, sessions)
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
    config = csv_config(tmp_path)
    (tmp_path / "prices" / "QQQ.csv").unlink()
    assert main(["fetch", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "QQQ: fetch_failed" in out
    assert "QQQ.csv: file not found" in out
