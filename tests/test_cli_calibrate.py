"""`corrbot calibrate`: real against null alert rates, on the terminal and as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from bot.core.calendar import nyse
from bot.core.calibration import CALIBRATION_COLUMNS
from tests.fakes.clock import ProcessClock

#: Wednesday 2026-12-02, 14:00 UTC: the CSV histories end on the session before.
AT = datetime(2026, 12, 2, 14, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock() -> Iterator[ProcessClock]:
    with ProcessClock(AT) as clock:
        yield clock


@pytest.fixture(autouse=True)
def _no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Replaying files needs no configuration: none in the folder, none in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CORRBOT_CONFIG", raising=False)


def _write_prices(folder: Path, sessions: int) -> list[str]:
    """The default universe over the last ``sessions`` sessions; BTC~PSCT couples late."""
    folder.mkdir()
    dates = [ts.date().isoformat() for ts in nyse().recent_closes(sessions, AT).index]
    rng = np.random.default_rng(4)
    common = rng.standard_normal(len(dates))
    rho = np.where(np.arange(len(dates)) > len(dates) - 120, 0.9, 0.05)
    for ticker, scale in [("BTC-USD", 0.03), ("ETH-USD", 0.04), ("PSCT", 0.012)]:
        own = rng.standard_normal(len(dates))
        weight = rho if ticker != "ETH-USD" else np.full(len(dates), 0.3)
        shocks = np.sqrt(weight) * common + np.sqrt(1 - weight) * own
        _write(folder / f"{ticker}.csv", dates, scale * shocks)
    for ticker in ("IWM", "QQQ"):
        _write(folder / f"{ticker}.csv", dates, 0.01 * rng.standard_normal(len(dates)))
    return dates


def _write(path: Path, dates: list[str], returns: np.ndarray) -> None:
    closes = 100 * np.exp(np.cumsum(returns))
    rows = "\n".join(f"{d},{c:.6f}" for d, c in zip(dates, closes, strict=True))
    path.write_text(f"date,close\n{rows}\n")


def test_prints_real_beside_every_null_and_writes_the_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_prices(tmp_path / "prices", 700)
    out = tmp_path / "calibration.csv"
    argv = ["calibrate", "--csv-dir", str(tmp_path / "prices"), "--paths", "6", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "null: circular" in printed
    assert "null: t4" in printed
    assert "shift: alerts pushed" in printed
    assert "crypto sampled at its daily close" in printed
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == CALIBRATION_COLUMNS
    assert {row["null"] for row in rows} == {"circular", "gaussian", "t4"}
    assert {row["paths"] for row in rows} == {"6"}


def test_the_late_coupling_is_listed_among_the_alerts_the_history_pushes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_prices(tmp_path / "prices", 700)
    argv = ["calibrate", "--csv-dir", str(tmp_path / "prices"), "--paths", "2"]
    assert main([*argv, "--out", str(tmp_path / "c.csv")]) == 0
    printed = capsys.readouterr().out
    assert "BTC~PSCT spike up" in printed


def test_split_reports_in_sample_and_out_of_sample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dates = _write_prices(tmp_path / "prices", 700)
    out = tmp_path / "calibration.csv"
    argv = ["calibrate", "--csv-dir", str(tmp_path / "prices"), "--paths", "2"]
    assert main([*argv, "--split", dates[500], "--out", str(out)]) == 0
    with out.open() as handle:
        periods = {(row["period"], row["start"], row["end"]) for row in csv.DictReader(handle)}
    assert {p[0] for p in periods} == {"in-sample", "out-of-sample"}
    assert ("out-of-sample", dates[500], dates[-1]) in periods


def test_zero_paths_exits_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["calibrate", "--csv-dir", str(tmp_path), "--paths", "0"]) == 2
    assert "--paths must be at least 1 (got 0)" in capsys.readouterr().err


def test_a_history_shorter_than_the_window_exits_2_naming_the_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_prices(tmp_path / "prices", 200)
    argv = ["calibrate", "--csv-dir", str(tmp_path / "prices"), "--paths", "2"]
    assert main([*argv, "--out", str(tmp_path / "c.csv")]) == 2
    err = capsys.readouterr().err
    assert "analysis.headline_window 30" in err
    assert "alerts.shift.baseline_sessions 250" in err
    assert not (tmp_path / "c.csv").exists()


def test_a_split_outside_the_history_exits_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_prices(tmp_path / "prices", 400)
    argv = ["calibrate", "--csv-dir", str(tmp_path / "prices"), "--paths", "2"]
    assert main([*argv, "--split", "2001-01-01", "--out", str(tmp_path / "c.csv")]) == 2
    assert "--split 2001-01-01 must fall after the first session" in capsys.readouterr().err
