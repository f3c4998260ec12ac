"""`corrbot backtest`: the CSVs, the chart and the per-year table, and its date option."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes.cli import (
    at_clock,  # noqa: F401 - the autouse fixture: the process stands at AT
    recent_sessions,
)
from tests.fakes.market import write_csv_market

#: The backtest's market: calm, then BTC and PSCT moving together from this session on.
BACKTEST_SESSIONS, BACKTEST_COUPLED_FROM = 500, 400


def test_backtest_writes_csvs_chart_and_per_year_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`corrbot backtest` writes the three files with the documented columns."""
    dates = recent_sessions(BACKTEST_SESSIONS)
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
