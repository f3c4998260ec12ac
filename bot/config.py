"""Configuration: ``config.yaml`` validated with pydantic at start-up.

Key names are a contract with operators' docs and deployments. An invalid file raises
:class:`~bot.core.errors.ConfigError` whose message names every bad key path and what is
accepted, e.g. ``data.crypto_source: 'binance' is not one of ccxt, yfinance, csv, synthetic``.
The bot token is never part of this file: it comes only from ``TELEGRAM_BOT_TOKEN``.

Relative paths (``storage.path``, ``data.csv_dir``) are resolved against the folder of the
configuration file, so a config means the same thing from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.core.errors import ConfigError
from bot.core.models import Asset, AssetKind

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "Config",
    "CryptoAssetConfig",
    "DataConfig",
    "EquityAssetConfig",
    "StorageConfig",
    "UniverseConfig",
    "load_config",
    "resolve_config_path",
]

CONFIG_ENV = "CORRBOT_CONFIG"
DEFAULT_CONFIG_PATH = Path("config.yaml")

CryptoSource = Literal["ccxt", "yfinance", "csv", "synthetic"]
EquitySource = Literal["yfinance", "csv", "synthetic"]
CryptoSampling = Literal["equity_close", "daily_close"]
Symbol = Annotated[
    str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
]


class _Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class CryptoAssetConfig(_Strict):
    """A 24/7 asset and its names on exchanges (``ccxt``) and Yahoo (``yahoo``)."""

    symbol: Symbol
    ccxt: str | None = Field(default=None, pattern=r"^[A-Z0-9]+/[A-Z0-9]+$")
    yahoo: str | None = None
    label: str = ""

    def to_asset(self) -> Asset:
        """The core model of this asset."""
        return Asset(self.symbol, AssetKind.CRYPTO, self.label, self.ccxt, self.yahoo)


class EquityAssetConfig(_Strict):
    """A US-listed instrument sampled at the NYSE close."""

    symbol: Symbol
    label: str = ""
    yahoo: str | None = None

    def to_asset(self) -> Asset:
        """The core model of this asset."""
        return Asset(self.symbol, AssetKind.EQUITY, self.label, None, self.yahoo)


def _default_crypto() -> list[CryptoAssetConfig]:
    return [
        CryptoAssetConfig(symbol="BTC", ccxt="BTC/USD", yahoo="BTC-USD"),
        CryptoAssetConfig(symbol="ETH", ccxt="ETH/USD", yahoo="ETH-USD"),
    ]


def _default_equities() -> list[EquityAssetConfig]:
    return [
        EquityAssetConfig(symbol="PSCT", label="US small-cap tech"),
        EquityAssetConfig(symbol="IWM", label="Russell 2000"),
        EquityAssetConfig(symbol="QQQ", label="Nasdaq-100 (large-cap tech)"),
    ]


class UniverseConfig(_Strict):
    """What is watched; the first crypto and the first equity form the headline pair."""

    crypto: list[CryptoAssetConfig] = Field(default_factory=_default_crypto, min_length=1)
    equities: list[EquityAssetConfig] = Field(default_factory=_default_equities, min_length=1)

    @model_validator(mode="after")
    def _symbols_unique(self) -> UniverseConfig:
        seen: set[str] = set()
        symbols = [c.symbol for c in self.crypto] + [e.symbol for e in self.equities]
        for symbol in symbols:
            key = symbol.upper()
            if key in seen:
                raise ValueError(f"symbol {symbol!r} appears twice; symbols must be unique")
            seen.add(key)
        return self

    def crypto_assets(self) -> list[Asset]:
        """The crypto assets, headline first."""
        return [c.to_asset() for c in self.crypto]

    def equity_assets(self) -> list[Asset]:
        """The equities, headline benchmark first."""
        return [e.to_asset() for e in self.equities]


class DataConfig(_Strict):
    """Where prices come from and how crypto is sampled against the equity close."""

    crypto_source: CryptoSource = "ccxt"
    equity_source: EquitySource = "yfinance"
    exchanges: list[str] = Field(
        default_factory=lambda: ["coinbase", "kraken", "bitstamp"], min_length=1
    )
    crypto_sampling: CryptoSampling = "equity_close"
    csv_dir: Path | None = None
    history_sessions: int = Field(default=1000, ge=60, le=10_000)
    refresh_overlap_sessions: int = Field(default=3, ge=0, le=30)
    stale_after_minutes: int = Field(default=90, ge=0, le=24 * 60)
    outlier_zscore: float = Field(default=10.0, gt=3.0, le=100.0)
    synthetic_seed: int = Field(default=7, ge=0)

    @field_validator("exchanges")
    @classmethod
    def _known_exchanges(cls, value: list[str]) -> list[str]:
        import ccxt  # imported here: loading ccxt costs half a second at start-up

        unknown = [e for e in value if e not in ccxt.exchanges]
        if unknown:
            raise ValueError(
                f"{unknown[0]!r} is not a ccxt exchange id (for example coinbase, kraken, bitstamp)"
            )
        if len(set(value)) != len(value):
            raise ValueError("an exchange is listed twice")
        return value


class StorageConfig(_Strict):
    """The embedded SQLite store."""

    path: Path = Path("corrbot.sqlite3")


class Config(_Strict):
    """The whole validated configuration."""

    universe: UniverseConfig = Field(default_factory=UniverseConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)

    @model_validator(mode="after")
    def _sources_have_what_they_need(self) -> Config:
        data = self.data
        if "csv" in (data.crypto_source, data.equity_source) and data.csv_dir is None:
            raise _KeyedError(
                ("data", "csv_dir"),
                "required (a folder of <ticker>.csv files) when a source is csv",
            )
        if data.crypto_source == "ccxt":
            for index, crypto in enumerate(self.universe.crypto):
                if crypto.ccxt is None:
                    raise _KeyedError(
                        ("universe", "crypto", index, "ccxt"),
                        f"required for {crypto.symbol} when data.crypto_source is ccxt "
                        "(a market such as BTC/USD)",
                    )
        return self

    def resolved(self, base: Path) -> Config:
        """A copy whose relative paths are anchored at ``base`` (the config file's folder)."""
        storage = self.storage.model_copy(update={"path": _anchor(self.storage.path, base)})
        csv_dir = None if self.data.csv_dir is None else _anchor(self.data.csv_dir, base)
        data = self.data.model_copy(update={"csv_dir": csv_dir})
        return self.model_copy(update={"storage": storage, "data": data})


class _KeyedError(ValueError):
    """A cross-field error that knows which key it is about."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


def _anchor(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base / path


def resolve_config_path(cli_path: str | os.PathLike[str] | None) -> Path:
    """``--config`` wins, then ``$CORRBOT_CONFIG``, then ``./config.yaml``."""
    if cli_path is not None:
        return Path(cli_path)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else DEFAULT_CONFIG_PATH


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
        lines = [_describe(error) for error in exc.errors(include_url=False)]
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(lines)) from None


def _describe(error: Any) -> str:
    """One line per problem: the dotted key path, then what is wrong and what is accepted."""
    loc: tuple[str | int, ...] = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, _KeyedError):
        loc = cause.loc
    key = _dotted(loc)
    value = error.get("input")
    if kind == "literal_error":
        accepted = ctx.get("expected", "").replace("'", "").replace(" or ", ", ")
        return f"{key}: {value!r} is not one of {accepted}"
    if kind == "extra_forbidden":
        accepted_keys = ", ".join(_accepted_keys(loc[:-1]))
        return f"{key}: unknown key (accepted here: {accepted_keys})"
    if kind == "missing":
        return f"{key}: required"
    if kind == "model_type":
        return f"{key}: must be a mapping of keys ({', '.join(_accepted_keys(loc))})"
    message = str(cause) if cause is not None else error["msg"]
    message = message.removeprefix("Value error, ")
    return (
        f"{key}: {message} (got {_short(value)})" if kind != "value_error" else f"{key}: {message}"
    )


def _dotted(loc: tuple[str | int, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts) or "(top level)"


def _accepted_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The field names of the model found at ``loc``, walking from :class:`Config`."""
    model: Any = Config
    for item in loc:
        if isinstance(item, int):
            continue
        field = model.model_fields.get(item)
        if field is None:
            return []
        annotation = field.annotation
        inner = getattr(annotation, "__args__", None)
        model = inner[0] if inner else annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return list(model.model_fields)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
