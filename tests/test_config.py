"""Configuration: validated at start-up, errors name the key and what is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import (
    Config,
    load_config,
    load_configured,
    parse_config,
    resolve_config_path,
)
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


def test_out_of_range_value_states_the_bound() -> None:
    """A number outside its range states the bound."""
    assert "greater than or equal to 60" in _error({"data": {"history_sessions": 5}})


def test_unknown_exchange_id_is_rejected() -> None:
    """Exchange ids are checked against ccxt's list."""
    assert "data.exchanges: 'binanse' is not a ccxt exchange id" in _error(
        {"data": {"exchanges": ["binanse"]}}
    )


def test_csv_source_requires_csv_dir() -> None:
    """A csv source without a folder is reported on data.csv_dir."""
    assert "data.csv_dir: required" in _error({"data": {"crypto_source": "csv"}})


def test_ccxt_source_requires_a_market_per_crypto() -> None:
    """With the ccxt source every crypto needs its exchange market."""
    message = _error({"universe": {"crypto": [{"symbol": "BTC", "yahoo": "BTC-USD"}]}})
    assert "universe.crypto[0].ccxt: required for BTC" in message


def test_duplicate_symbols_are_rejected() -> None:
    """Two assets with the same symbol would collide in every table."""
    crypto = [{"symbol": "BTC", "ccxt": "BTC/USD"}, {"symbol": "btc", "ccxt": "BTC/EUR"}]
    assert "appears twice" in _error({"universe": {"crypto": crypto}})


def test_every_problem_is_listed_at_once() -> None:
    """Several bad keys are reported together, so one run fixes them all."""
    message = _error({"data": {"crypto_source": "x", "crypto_sampling": "y"}})
    assert "data.crypto_source" in message
    assert "data.crypto_sampling" in message


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    """storage.path and data.csv_dir mean the same from any working directory."""
    path = tmp_path / "conf" / "config.yaml"
    path.parent.mkdir()
    path.write_text(
        "data: {crypto_source: csv, equity_source: csv, csv_dir: prices}\n"
        "storage: {path: db/corrbot.sqlite3}\n"
    )
    config = load_config(path)
    assert config.storage.path == path.parent / "db" / "corrbot.sqlite3"
    assert config.data.csv_dir == path.parent / "prices"


def test_invalid_yaml_reports_line_and_column(tmp_path: Path) -> None:
    """A YAML syntax error points at the spot."""
    path = tmp_path / "config.yaml"
    path.write_text("data:\n  crypto_source: [ccxt\n")
    with pytest.raises(ConfigError, match=r"not valid YAML \(line \d+, column \d+\)"):
        load_config(path)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    """A file holding a list instead of sections is rejected clearly."""
    path = tmp_path / "config.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(path)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    """An explicitly named file that does not exist is an error."""
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    """An empty file is valid and means every default."""
    path = tmp_path / "config.yaml"
    path.write_text("")
    assert load_config(path) == Config().resolved(tmp_path)


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    """--config wins over $CORRBOT_CONFIG, which wins over ./config.yaml."""
    assert resolve_config_path(None) == Path("config.yaml")
    monkeypatch.setenv("CORRBOT_CONFIG", "/etc/corrbot.yaml")
    assert resolve_config_path(None) == Path("/etc/corrbot.yaml")
    assert resolve_config_path("mine.yaml") == Path("mine.yaml")


def test_token_is_not_a_config_key() -> None:
    """The bot token can only come from the environment, never from the YAML."""
    assert "unknown key" in _error({"telegram": {"token": "123:abc"}})


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


def test_a_baseline_no_longer_than_the_window_is_refused() -> None:
    """The window is tested against the sessions before it, so the baseline must be longer."""
    raw = {"analysis": {"windows": [90, 120], "headline_window": 120}}
    message = _error({**raw, "alerts": {"shift": {"baseline_sessions": 100}}})
    assert "alerts.shift.baseline_sessions: 100 must exceed analysis.headline_window (120)" in (
        message
    )


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
    from bot.core.engine import AlertSettings
    from bot.wiring import build_alert_settings

    assert build_alert_settings(Config()) == AlertSettings()


def test_no_config_yaml_in_the_working_folder_means_every_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every key is optional, so `corrbot run` in a folder without config.yaml starts."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CORRBOT_CONFIG", raising=False)
    config = load_configured(None)
    assert config.schedule.time == Config().schedule.time
    assert Path(config.storage.path).parent == tmp_path


@pytest.mark.parametrize("named_by", ["--config", "CORRBOT_CONFIG"])
def test_a_config_file_named_explicitly_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, named_by: str
) -> None:
    """A path the operator gave is never silently replaced by the defaults: a typo is an error."""
    missing = tmp_path / "cofnig.yaml"
    monkeypatch.delenv("CORRBOT_CONFIG", raising=False)
    if named_by == "CORRBOT_CONFIG":
        monkeypatch.setenv("CORRBOT_CONFIG", str(missing))
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_configured(str(missing) if named_by == "--config" else None)
