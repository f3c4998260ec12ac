"""The sections of ``config.yaml``: one strict pydantic model per top-level key but ``alerts``.

Each model states its keys, their types, defaults and bounds, and the checks that need only
that section (a known time zone, a ccxt exchange id, unique symbols). Unknown keys are errors,
so a typo never falls back to a default silently. The key names are a contract with operators'
files and ``docs/configuration.md``, which :mod:`bot.config.reference` generates from these
models. The alert rules' sections are in :mod:`bot.config.alerts`; checks across sections in
:mod:`bot.config.schema`. It stays one file, a little long at over 300 lines: twelve short models
that share one base and a few field types, each read at a glance.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from bot.config.errors import KeyedError
from bot.core.models import Asset, AssetKind

__all__ = [
    "AnalysisConfig",
    "CryptoAssetConfig",
    "DataConfig",
    "DeliveryConfig",
    "EquityAssetConfig",
    "HealthConfig",
    "LoggingConfig",
    "MetricsConfig",
    "ScheduleConfig",
    "StorageConfig",
    "StrictModel",
    "TelegramConfig",
    "UniverseConfig",
]

CryptoSource = Literal["ccxt", "yfinance", "csv", "synthetic"]
EquitySource = Literal["yfinance", "csv", "synthetic"]
CryptoSampling = Literal["equity_close", "daily_close"]
Symbol = Annotated[
    str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
]


def _usable_path(value: Any) -> Any:
    """Refuse what no file system takes, at start-up rather than at first use.

    An empty name would mean the config folder itself; a NUL character makes the OS call
    fail far from the configuration.
    """
    if isinstance(value, str) and not value.strip():
        raise ValueError("is empty: give a file or folder name")
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


def _not_a_boolean(value: Any) -> Any:
    """YAML reads yes/no/true as booleans, which lax integers would take as 1 and 0."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is a yes/no value, not a Telegram id")  # noqa: TRY004 - pydantic reports ValueError only
    return value


#: A file or folder path from the configuration.
ConfigPath = Annotated[Path, BeforeValidator(_usable_path)]
#: A Telegram user or chat id.
TelegramId = Annotated[int, BeforeValidator(_not_a_boolean), Field(gt=0)]


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class CryptoAssetConfig(StrictModel):
    """A 24/7 asset and its names on exchanges (``ccxt``) and Yahoo (``yahoo``)."""

    symbol: Symbol = Field(
        description="the name users see, e.g. BTC; the first crypto is the headline"
    )
    ccxt: str | None = Field(
        default=None,
        pattern=r"^[A-Z0-9]+/[A-Z0-9]+$",
        description="exchange market for the ccxt source, e.g. BTC/USD",
    )
    yahoo: str | None = Field(
        default=None, description="Yahoo ticker, e.g. BTC-USD (also the csv file name)"
    )
    label: str = Field(default="", description="a human name shown next to the symbol")

    def to_asset(self) -> Asset:
        """The core model of this asset."""
        return Asset(self.symbol, AssetKind.CRYPTO, self.label, self.ccxt, self.yahoo)


class EquityAssetConfig(StrictModel):
    """A US-listed instrument sampled at the NYSE close."""

    symbol: Symbol = Field(
        description="US-listed ticker; the first equity is the headline benchmark"
    )
    label: str = Field(default="", description='a human name, e.g. "US small-cap tech"')
    yahoo: str | None = Field(
        default=None, description="Yahoo ticker when it differs from the symbol"
    )

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


class UniverseConfig(StrictModel):
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


class DataConfig(StrictModel):
    """Where prices come from and how crypto is sampled against the equity close."""

    crypto_source: CryptoSource = "ccxt"
    equity_source: EquitySource = "yfinance"
    exchanges: list[str] = Field(
        default_factory=lambda: ["coinbase", "kraken", "bitstamp"], min_length=1
    )
    crypto_sampling: CryptoSampling = "equity_close"
    csv_dir: ConfigPath | None = None
    history_sessions: int = Field(default=1000, ge=60, le=10_000)
    refresh_overlap_sessions: int = Field(default=3, ge=0, le=30)
    # 20 sessions (four calendar weeks): sources backfill an outage within days, a vendor's
    # worst within weeks; asking again costs nothing (the instants ride in the same request),
    # and by then the hole has left most of the 30-session alert window. 0: the old behaviour
    # (a hole older than the overlap is a known gap at once).
    late_retry_sessions: int = Field(
        default=20,
        ge=0,
        le=250,
        description="a session with no price is asked for again on every refresh for this many "
        "sessions (at least the overlap) before it is a known gap",
    )
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


class AnalysisConfig(StrictModel):
    """Which rolling windows are computed, and which one drives regimes and alerts."""

    windows: list[Annotated[int, Field(ge=10, le=500)]] = Field(
        default_factory=lambda: [30, 90], min_length=1, max_length=6
    )
    headline_window: int = 30
    ewm_halflife: float = Field(default=20.0, ge=2.0, le=250.0)
    min_coverage: float = Field(default=0.8, gt=0.3, le=1.0)

    @model_validator(mode="after")
    def _headline_is_computed(self) -> AnalysisConfig:
        if len(set(self.windows)) != len(self.windows):
            raise KeyedError(("analysis", "windows"), "a window is listed twice")
        if self.headline_window not in self.windows:
            accepted = ", ".join(str(w) for w in self.windows)
            raise KeyedError(
                ("analysis", "headline_window"),
                f"{self.headline_window} is not one of the windows ({accepted})",
            )
        return self


#: A Bot API token (``<bot id>:<secret>``) as a path segment of a URL.
_TOKEN_IN_URL = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


class TelegramConfig(StrictModel):
    """Where the Bot API is, who administers the bot, and an optional broadcast channel."""

    api_base_url: str = "https://api.telegram.org/bot"
    admins: list[TelegramId] = Field(default_factory=list)
    channel: Annotated[str | int | None, BeforeValidator(_not_a_boolean)] = None
    poll_timeout_seconds: int = Field(default=30, ge=1, le=60)

    @field_validator("api_base_url")
    @classmethod
    def _base_url_shape(cls, value: str) -> str:
        """Never echoes the value: a token pasted into the URL would reach the terminal."""
        if _TOKEN_IN_URL.search(value):
            raise ValueError(
                "holds a bot token: give the API's base only (https://api.telegram.org/bot); "
                "the token comes only from TELEGRAM_BOT_TOKEN"
            )
        if not re.fullmatch(r"https?://\S+", value):
            raise ValueError(
                "must be an http:// or https:// URL without spaces, such as "
                "https://api.telegram.org/bot (the value is not shown: it may hold a secret)"
            )
        return value

    @field_validator("channel")
    @classmethod
    def _channel_shape(cls, value: str | int | None) -> str | int | None:
        if not isinstance(value, str):
            return value
        digits = value.removeprefix("-")
        if digits.isascii() and digits.isdecimal() and len(digits) <= 20:
            return int(value)
        if not value.startswith("@"):
            raise ValueError(f"{value!r} is not a channel: use @channelname or its numeric id")
        return value

    @property
    def base_file_url(self) -> str:
        """File downloads follow the API server: ``.../bot`` becomes ``.../file/bot``."""
        base = self.api_base_url.rstrip("/")
        head, _, tail = base.rpartition("/")
        return f"{head}/file/{tail}" if head else f"{base}/file"


class ScheduleConfig(StrictModel):
    """When the daily job runs: NYSE sessions only, at a local time of day."""

    time: str = Field(default="17:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "America/New_York"
    retry_minutes: int = Field(default=20, ge=1, le=240)
    retry_for_minutes: int = Field(default=360, ge=0, le=24 * 60)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, a long name
            raise ValueError(
                f"{value!r} is not a time zone (for example America/New_York)"
            ) from None
        return value

    @property
    def hour_minute(self) -> tuple[int, int]:
        """The configured time of day."""
        hour, minute = self.time.split(":")
        return int(hour), int(minute)


class DeliveryConfig(StrictModel):
    """How fast and how stubbornly alerts are sent (Telegram allows about 30 a second)."""

    messages_per_second: float = Field(default=28.0, gt=0.0, le=30.0)
    max_attempts: int = Field(default=8, ge=1, le=50)
    concurrency: int = Field(default=32, ge=1, le=256)


class LoggingConfig(StrictModel):
    """Log level and format: readable lines on a terminal, JSON lines in a container."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class MetricsConfig(StrictModel):
    """An optional Prometheus endpoint."""

    port: int | None = Field(default=None, ge=1, le=65535)
    address: str = "127.0.0.1"


class HealthConfig(StrictModel):
    """What ``corrbot health`` calls healthy."""

    heartbeat_seconds: int = Field(default=60, ge=5, le=3600)
    max_heartbeat_age_seconds: int = Field(default=300, ge=10, le=86_400)


class StorageConfig(StrictModel):
    """The embedded SQLite store."""

    path: ConfigPath = Path("corrbot.sqlite3")
