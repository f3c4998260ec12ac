"""The configuration reference cannot drift from the models or from config.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.config import Config, load_config
from bot.config.reference import comments_of, leaf_paths, render_reference

ROOT = Path(__file__).resolve().parent.parent


def _yaml_paths(node: object, prefix: str = "") -> set[str]:
    if isinstance(node, dict):
        paths: set[str] = set()
        for key, value in node.items():
            path = f"{prefix}{key}"
            child = _yaml_paths(value, f"{path}.")
            paths |= child or {path}
        return paths
    if isinstance(node, list) and node and isinstance(node[0], dict):
        return set().union(*(_yaml_paths(item, prefix.removesuffix(".") + "[].") for item in node))
    return set()


def test_committed_reference_is_up_to_date() -> None:
    """docs/configuration.md is exactly what the generator makes today."""
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == render_reference(), (
        "run: python -m bot.config.reference > docs/configuration.md"
    )


def test_config_yaml_has_every_model_key_and_no_other() -> None:
    """Every key the models accept is in config.yaml, and config.yaml has nothing else."""
    model_keys = {path for path, _ in leaf_paths()}
    yaml_keys = _yaml_paths(yaml.safe_load((ROOT / "config.yaml").read_text()))
    optional_asset_keys = {"universe.crypto[].label", "universe.equities[].yahoo"}
    assert yaml_keys <= model_keys
    assert model_keys - yaml_keys <= optional_asset_keys


def test_every_key_is_explained() -> None:
    """Each key has a meaning: a comment in config.yaml or a description in the model."""
    comments = comments_of(ROOT / "config.yaml")
    for path, field in leaf_paths():
        assert comments.get(path.replace("[]", "")) or field.description, f"{path} is not explained"


def test_config_yaml_is_the_defaults() -> None:
    """The commented file and the model defaults are the same configuration."""
    assert load_config(ROOT / "config.yaml") == Config().resolved(ROOT)


def test_container_config_is_valid() -> None:
    """The image's configuration loads and keeps its store on the /data volume."""
    config = load_config(ROOT / "docker" / "config.yaml")
    assert str(config.storage.path) == "/data/corrbot.sqlite3"
    assert config.logging.format == "json"
