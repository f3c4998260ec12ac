"""Validation errors name the key, what is wrong and what is accepted, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config, parse_config
from bot.core.errors import ConfigError


def _error(raw: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value)


def test_bad_source_names_key_and_accepted_values() -> None:
    """An unknown source is reported with its key path and the accepted values."""
    message = _error({"data": {"crypto_source": "binance"}})
    assert "data.crypto_source: 'binance' is not one of ccxt, yfinance, csv, synthetic" in message


def test_unknown_key_is_an_error_listing_the_accepted_keys() -> None:
    """A typo is caught instead of silently falling back to a default."""
    message = _error({"data": {"exchange": ["kraken"]}})
    assert "data.exchange: unknown key" in message
    assert "exchanges" in message


def test_unknown_nested_key_names_the_list_index() -> None:
    """Errors inside a list name the element by index."""
    message = _error({"universe": {"crypto": [{"symbol": "BTC", "ccxt": "BTC/USD", "tick": 1}]}})
    assert "universe.crypto[0].tick: unknown key" in message


def test_wrong_type_names_key_and_value() -> None:
    """A wrong type says which key and what was given."""
    message = _error({"data": {"history_sessions": "lots"}})
    assert "data.history_sessions" in message
    assert "'lots'" in message


def test_every_problem_is_listed_at_once() -> None:
    """Several bad keys are reported together, so one run fixes them all."""
    message = _error({"data": {"crypto_source": "x", "crypto_sampling": "y"}})
    assert "data.crypto_source" in message
    assert "data.crypto_sampling" in message


def test_an_old_spike_section_is_refused_naming_its_replacement() -> None:
    """A config written for the old alerts.spike rule says what took its place."""
    message = _error({"alerts": {"spike": {"z": 3.0, "cooldown_sessions": 15}}})
    assert "alerts.spike: replaced by alerts.shift" in message
    assert "z, rearm_z, baseline_sessions, settle_sessions, clip, vol_halflife, lead" in message


def test_an_old_spike_section_in_a_file_is_refused_naming_its_replacement(tmp_path: Path) -> None:
    """The same from a file on disk, as `corrbot run` reads it."""
    path = tmp_path / "config.yaml"
    path.write_text("alerts:\n  spike: {z: 3.0, min_change: 0.35}\n")
    with pytest.raises(ConfigError, match=r"alerts\.spike: replaced by alerts\.shift"):
        load_config(path)
