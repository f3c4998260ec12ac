"""Config: checks across sections name the key to change; its defaults are config.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, load_config, parse_config
from bot.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def _error(raw: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value)


def test_shipped_config_yaml_equals_the_model_defaults() -> None:
    """The commented config.yaml and the pydantic defaults describe the same configuration."""
    shipped = load_config(ROOT / "config.yaml")
    assert shipped == Config().resolved(ROOT)


def test_csv_source_requires_csv_dir() -> None:
    """A csv source without a folder is reported on data.csv_dir."""
    assert "data.csv_dir: required" in _error({"data": {"crypto_source": "csv"}})


def test_ccxt_source_requires_a_market_per_crypto() -> None:
    """With the ccxt source every crypto needs its exchange market."""
    message = _error({"universe": {"crypto": [{"symbol": "BTC", "yahoo": "BTC-USD"}]}})
    assert "universe.crypto[0].ccxt: required for BTC" in message


def test_a_baseline_no_longer_than_the_window_is_refused() -> None:
    """The window is tested against the sessions before it, so the baseline must be longer."""
    raw = {"analysis": {"windows": [90, 120], "headline_window": 120}}
    message = _error({**raw, "alerts": {"shift": {"baseline_sessions": 100}}})
    assert "alerts.shift.baseline_sessions: 100 must exceed analysis.headline_window (120)" in (
        message
    )
