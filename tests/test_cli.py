"""The command line: exit statuses, the fetch table, the demo."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import __version__
from bot.cli import main
from bot.core.calendar import nyse
from tests.fakes.clock import INSTANTS, ProcessClock
from tests.fakes.market import write_csv_market

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


def test_bad_config_exits_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad key stops with status 2 and a message naming it, never a traceback."""
    config = tmp_path / "config.yaml"
    config.write_text("data: {crypto_source: binance}\n")
    assert main(["fetch", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "data.crypto_source: 'binance' is not one of ccxt, yfinance, csv, synthetic" in err
    assert "Traceback" not in err


def test_config_from_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """$CORRBOT_CONFIG is used when --config is absent."""
    monkeypatch.setenv("CORRBOT_CONFIG", str(_csv_config(tmp_path)))
    assert main(["fetch"]) == 0
    assert "csv:QQQ.csv" in capsys.readouterr().out


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


def test_version_is_printed() -> None:
    """`python -m bot --version` runs the same CLI as the console script."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--version"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"corrbot {__version__}"


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command exits 2 with the usage line."""
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "usage: corrbot" in capsys.readouterr().err


#: The backtest's market: calm, then BTC and PSCT moving together from this session on.
BACKTEST_SESSIONS, BACKTEST_COUPLED_FROM = 500, 400


def test_backtest_writes_csvs_chart_and_per_year_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`corrbot backtest` writes the three files with the documented columns."""
    dates = _recent_sessions(BACKTEST_SESSIONS)
    write_csv_market(tmp_path / "prices", dates, BACKTEST_COUPLED_FROM)
    config = tmp_path / "config.yaml"
    config.write_text(
        "data: {crypto_source: csv, equity_source: csv, csv_dir: prices}\n"
        "storage: {path: corrbot.sqlite3}\n"
    )
    out = tmp_path / "out"
    start = dates[300]
    assert main(["backtest", "--config", str(config), "--start", start, "--out", str(out)]) == 0
    correlations = (out / "correlations.csv").read_text().splitlines()
    assert correlations[0] == "date,crypto,equity,window,corr"
    assert min(line.split(",")[0] for line in correlations[1:]) == start
    with (out / "alerts.csv").open(newline="") as file:
        header, *rows = list(csv.reader(file))
    columns = "date,kind,crypto,equity,window,corr,prev_corr,z,regime_from,regime_to,message"
    assert ",".join(header) == f"{columns},direction,lower,upper,notify"
    alerts = [dict(zip(header, row, strict=True)) for row in rows]
    assert {a["direction"] for a in alerts} <= {"up", "down"}
    assert {a["notify"] for a in alerts} <= {"true", "false"}
    for alert in alerts:
        assert float(alert["lower"]) < float(alert["corr"]) < float(alert["upper"])
    pushed = [a for a in alerts if a["notify"] == "true"]
    assert [(a["kind"], a["crypto"], a["equity"], a["direction"]) for a in pushed] == [
        ("spike", "BTC", "PSCT", "up")
    ], "the one change in the market, told once"
    assert pushed[0]["date"] >= dates[BACKTEST_COUPLED_FROM]
    assert pushed[0]["message"].startswith("BTC is moving with PSCT")
    follow_ups = [a for a in alerts if a["notify"] == "false"]
    assert follow_ups, "the correlation reaching another band follows the opening"
    assert all(a["date"] > pushed[0]["date"] for a in follow_ups)
    assert (out / "chart.png").read_bytes().startswith(b"\x89PNG")
    printed = capsys.readouterr().out
    assert "year" in printed
    assert "BTC~PSCT" in printed
    assert "follow-ups" in printed


def test_backtest_rejects_a_bad_date(capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --start is a usage error naming the value."""
    with pytest.raises(SystemExit) as info:
        main(["backtest", "--start", "2024-13-01", "--out", "x"])
    assert info.value.code == 2
    assert "'2024-13-01' is not a date" in capsys.readouterr().err


def test_demo_runs_offline_and_writes_its_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`corrbot demo` needs no token and no network, and prints alerts, /corr and the chart."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "a synthetic market (seed 7, no network)" in printed
    assert re.search(
        r"\d+ alerts pushed in all \(and \d+ silent follow-ups\); the last 3 as a ", printed
    )
    assert "crypto sampled at" in printed
    assert "The /corr reply today" in printed
    assert f"Chart: {(out / 'chart.png').resolve()}" in printed
    assert (out / "chart.png").read_bytes().startswith(b"\x89PNG")
