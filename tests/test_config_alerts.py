"""The alerts section: the rules' bounds and re-arming, and defaults taken from the rules."""

from __future__ import annotations

import pytest

from bot.config import Config, parse_config
from bot.core.errors import ConfigError


def _error(raw: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    return str(info.value)


@pytest.mark.parametrize("z", [0, -3.0, 1.0])
def test_a_firing_threshold_below_the_range_names_the_key_and_bound(z: float) -> None:
    """alerts.shift.z under 1.5 would fire on noise: refused, naming the key and the bound."""
    message = _error({"alerts": {"shift": {"z": z}}})
    assert "alerts.shift.z: Input should be greater than or equal to 1.5" in message


def test_a_firing_threshold_above_the_range_names_the_key_and_bound() -> None:
    """alerts.shift.z over 10 could never fire: refused, naming the key and the bound."""
    message = _error({"alerts": {"shift": {"z": 50}}})
    assert "alerts.shift.z: Input should be less than or equal to 10" in message


@pytest.mark.parametrize(("z", "rearm_z"), [(2.5, 2.5), (3.0, 4.0)])
def test_rearm_at_or_above_the_firing_threshold_names_both_keys(z: float, rearm_z: float) -> None:
    """The rule re-arms under rearm_z, so rearm_z must be below z; the error names both."""
    message = _error({"alerts": {"shift": {"z": z, "rearm_z": rearm_z}}})
    assert f"alerts.shift.rearm_z: {rearm_z:g} must be below alerts.shift.z ({z:g})" in message


def test_a_rearm_of_zero_is_refused() -> None:
    """With rearm_z 0 no session is ever quiet, so no episode could settle."""
    message = _error({"alerts": {"shift": {"rearm_z": 0}}})
    assert "alerts.shift.rearm_z: Input should be greater than 0" in message


@pytest.mark.parametrize(
    ("key", "value", "bound"),
    [
        ("settle_sessions", 0, "greater than or equal to 1"),
        ("clip", 0, "greater than or equal to 1"),
        ("vol_halflife", 0, "greater than or equal to 2"),
        ("baseline_sessions", 20, "greater than or equal to 60"),
    ],
)
def test_shift_settings_out_of_range_name_the_key_and_bound(
    key: str, value: float, bound: str
) -> None:
    """Each alerts.shift key outside its range is named with the bound it broke."""
    message = _error({"alerts": {"shift": {key: value}}})
    assert f"alerts.shift.{key}: Input should be {bound}" in message


def test_the_rules_read_their_defaults_from_the_rule_modules() -> None:
    """The engine's settings built from a default Config equal the engine's own defaults."""
    from bot.compose import alert_settings
    from bot.core.engine import AlertSettings

    assert alert_settings(Config()) == AlertSettings()
