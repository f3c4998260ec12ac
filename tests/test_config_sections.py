"""The sections: bounds, exchange ids, unique symbols, and no key for the bot token."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.core.errors import ConfigError


def _error(raw: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value)


def test_out_of_range_value_states_the_bound() -> None:
    """A number outside its range states the bound."""
    assert "greater than or equal to 60" in _error({"data": {"history_sessions": 5}})


def test_unknown_exchange_id_is_rejected() -> None:
    """Exchange ids are checked against ccxt's list."""
    assert "data.exchanges: 'binanse' is not a ccxt exchange id" in _error(
        {"data": {"exchanges": ["binanse"]}}
    )


def test_duplicate_symbols_are_rejected() -> None:
    """Two assets with the same symbol would collide in every table."""
    crypto = [{"symbol": "BTC", "ccxt": "BTC/USD"}, {"symbol": "btc", "ccxt": "BTC/EUR"}]
    assert "appears twice" in _error({"universe": {"crypto": crypto}})


def test_token_is_not_a_config_key() -> None:
    """The bot token can only come from the environment, never from the YAML."""
    assert "unknown key" in _error({"telegram": {"token": "123:abc"}})
