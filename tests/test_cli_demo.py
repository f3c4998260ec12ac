"""`corrbot demo`: the offline tour of a synthetic market, printed and charted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakes.cli import at_clock  # noqa: F401 - the autouse fixture: the process stands at AT


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
