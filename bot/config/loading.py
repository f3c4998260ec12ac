"""Finding ``config.yaml``, reading it and validating it into a :class:`~bot.config.Config`.

``--config`` wins, then ``$CORRBOT_CONFIG``, then ``./config.yaml``; every key has a default,
so only the implicit ``./config.yaml`` may be absent. Anything wrong with the file (unreadable,
not YAML, not a mapping, invalid keys) raises :class:`~bot.core.errors.ConfigError` naming the
file and, for keys, every bad key path. Relative paths (``storage.path``, ``data.csv_dir``) are
resolved against the file's folder, so a config means the same thing from any working
directory. The bot token is never read from the file: it comes only from ``TELEGRAM_BOT_TOKEN``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config.errors import invalid_configuration
from bot.config.schema import Config
from bot.core.errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "load_config",
    "load_configured",
    "parse_config",
    "resolve_config_path",
]

CONFIG_ENV = "CORRBOT_CONFIG"
DEFAULT_CONFIG_PATH = Path("config.yaml")


def resolve_config_path(cli_path: str | os.PathLike[str] | None) -> Path:
    """``--config`` wins, then ``$CORRBOT_CONFIG``, then ``./config.yaml``."""
    if cli_path is not None:
        return Path(cli_path)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else DEFAULT_CONFIG_PATH


def load_configured(cli_path: str | os.PathLike[str] | None) -> Config:
    """The configuration a command runs on: as :func:`resolve_config_path` finds it.

    Every key has a default, so a missing ``./config.yaml`` means the defaults; a file named
    by ``--config`` or ``$CORRBOT_CONFIG`` must exist (a typo there is an error, not silence).
    """
    path = resolve_config_path(cli_path)
    implicit = cli_path is None and not os.environ.get(CONFIG_ENV)
    return load_config(path, missing_ok=implicit)


def load_config(path: Path, *, missing_ok: bool = False) -> Config:
    """Read and validate ``path``; with ``missing_ok`` an absent file means the defaults."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return Config().resolved(Path.cwd())
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(
            f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of sections, got {type(raw).__name__}"
        )
    return parse_config(raw, source=str(path)).resolved(path.resolve().parent)


def parse_config(raw: dict[str, Any], *, source: str = "config") -> Config:
    """Validate an already-parsed mapping, translating pydantic's errors into ours."""
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise invalid_configuration(exc, source=source, root=Config) from None
