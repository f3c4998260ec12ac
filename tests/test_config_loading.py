"""Loading: which file, its YAML, relative paths anchored at its folder, and defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Config, load_config, load_configured, resolve_config_path
from bot.core.errors import ConfigError


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
