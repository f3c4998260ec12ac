"""The command line itself: the version, usage errors, and where the configuration comes from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import __version__
from bot.cli import main
from tests.fakes.cli import (
    at_clock,  # noqa: F401 - the autouse fixture: the process stands at AT
    csv_config,
)


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
    monkeypatch.setenv("CORRBOT_CONFIG", str(csv_config(tmp_path)))
    assert main(["fetch"]) == 0
    assert "csv:QQQ.csv" in capsys.readouterr().out
