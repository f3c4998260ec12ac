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
import re
import reprlib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.core.errors import ConfigError
from bot.core.models import Asset, AssetKind, Pair
from bot.core.regimes import RegimeBands
from bot.core.rules.regime import RegimeSettings
from bot.core.rules.shift import ShiftSettings

__all__ = [
    "CONFIG_ENV",
    "DEFAULT_CONFIG_PATH",
    "AlertsConfig",
    "AnalysisConfig",
    "Config",
    "CryptoAssetConfig",
    "DataConfig",
    "DeliveryConfig",
    "EquityAssetConfig",
    "HealthConfig",
    "LoggingConfig",
    "MetricsConfig",
    "RegimeConfig",
    "ScheduleConfig",
    "ShiftConfig",
    "StorageConfig",
    "TelegramConfig",
    "UniverseConfig",
    "load_config",
    "load_configured",
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


class _Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class CryptoAssetConfig(_Strict):
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


class EquityAssetConfig(_Strict):
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


class AnalysisConfig(_Strict):
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
            raise _KeyedError(("analysis", "windows"), "a window is listed twice")
        if self.headline_window not in self.windows:
            accepted = ", ".join(str(w) for w in self.windows)
            raise _KeyedError(
                ("analysis", "headline_window"),
                f"{self.headline_window} is not one of the windows ({accepted})",
            )
        return self


_SHIFT = ShiftSettings()
#: A Bot API token (``<bot id>:<secret>``) as a path segment of a URL.
_TOKEN_IN_URL = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
_REGIME = RegimeSettings()


class RegimeConfig(_Strict):
    """Bands on the headline correlation, told as silent follow-ups inside an episode."""

    edges: tuple[float, float, float] = Field(
        default=_REGIME.bands.edges,
        description="inverse | decoupled | linked | coupled boundaries, ascending",
    )
    hysteresis: float = Field(default=_REGIME.bands.hysteresis, ge=0.0, le=0.3)
    confirm_sessions: int = Field(default=_REGIME.confirm_sessions, ge=1, le=30)

    @field_validator("edges")
    @classmethod
    def _ascending(cls, value: tuple[float, float, float]) -> tuple[float, float, float]:
        if not (-1.0 < value[0] < value[1] < value[2] < 1.0):
            raise ValueError("must be three strictly ascending numbers between -1 and 1")
        return value

    def settings(self) -> RegimeSettings:
        """The rule's settings."""
        bands = RegimeBands(edges=self.edges, hysteresis=self.hysteresis)
        return RegimeSettings(bands=bands, confirm_sessions=self.confirm_sessions)


class ShiftConfig(_Strict):
    """A significant change in how the pair co-moves, against the year before (it notifies)."""

    z: float = Field(
        default=_SHIFT.z, ge=1.5, le=10.0, description="test statistic needed to alert"
    )
    rearm_z: float = Field(
        default=_SHIFT.rearm_z,
        gt=0.0,
        le=5.0,
        description="back under this, it may alert again (0 would never let an episode settle)",
    )
    baseline_sessions: int = Field(
        default=_SHIFT.baseline, ge=60, le=1000, description="the sessions before the window"
    )
    settle_sessions: int = Field(
        default=_SHIFT.settle_sessions, ge=1, le=250, description="quiet sessions ending an episode"
    )
    clip: float = Field(
        default=_SHIFT.clip, ge=1.0, le=10.0, description="a day counts up to this many sigmas"
    )
    vol_halflife: float = Field(
        default=_SHIFT.vol_halflife,
        ge=2.0,
        le=250.0,
        description="half-life (sessions) of the volatility each return is scaled by",
    )
    lead: bool = Field(
        default=_SHIFT.lead,
        description="also count crypto leading the equity by a session (daily-close sampling)",
    )

    @model_validator(mode="after")
    def _rearm_below_threshold(self) -> ShiftConfig:
        if self.rearm_z >= self.z:
            raise _KeyedError(
                ("alerts", "shift", "rearm_z"),
                f"{self.rearm_z:g} must be below alerts.shift.z ({self.z:g}): the rule re-arms "
                "once the statistic has fallen back under rearm_z",
            )
        return self

    def settings(self, window: int, min_coverage: float) -> ShiftSettings:
        """The rule's settings, over the analysis' headline window."""
        return ShiftSettings(
            window=window,
            baseline=self.baseline_sessions,
            z=self.z,
            rearm_z=self.rearm_z,
            settle_sessions=self.settle_sessions,
            clip=self.clip,
            vol_halflife=self.vol_halflife,
            lead=self.lead,
            min_coverage=min_coverage,
        )


class AlertsConfig(_Strict):
    """Which pairs alert, and the rules' settings (calibrated with `corrbot calibrate`)."""

    pairs: list[str] | None = None
    shift: ShiftConfig = Field(default_factory=ShiftConfig)
    regime: RegimeConfig = Field(default_factory=RegimeConfig)

    @field_validator("pairs")
    @classmethod
    def _pairs_parse(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for text in value:
                Pair.parse(text)
        return value


class TelegramConfig(_Strict):
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


class ScheduleConfig(_Strict):
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


class DeliveryConfig(_Strict):
    """How fast and how stubbornly alerts are sent (Telegram allows about 30 a second)."""

    messages_per_second: float = Field(default=28.0, gt=0.0, le=30.0)
    max_attempts: int = Field(default=8, ge=1, le=50)
    concurrency: int = Field(default=32, ge=1, le=256)


class LoggingConfig(_Strict):
    """Log level and format: readable lines on a terminal, JSON lines in a container."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class MetricsConfig(_Strict):
    """An optional Prometheus endpoint."""

    port: int | None = Field(default=None, ge=1, le=65535)
    address: str = "127.0.0.1"


class HealthConfig(_Strict):
    """What ``corrbot health`` calls healthy."""

    heartbeat_seconds: int = Field(default=60, ge=5, le=3600)
    max_heartbeat_age_seconds: int = Field(default=300, ge=10, le=86_400)


class StorageConfig(_Strict):
    """The embedded SQLite store."""

    path: ConfigPath = Path("corrbot.sqlite3")


class Config(_Strict):
    """The whole validated configuration."""

    universe: UniverseConfig = Field(default_factory=UniverseConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    telegram: TelegramConfig = Field(default_factory=TelegramConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)

    @property
    def labels(self) -> dict[str, str]:
        """Symbol to label, for every asset that has one."""
        crypto = {c.symbol: c.label for c in self.universe.crypto if c.label}
        return crypto | {e.symbol: e.label for e in self.universe.equities if e.label}

    @property
    def alert_pairs(self) -> list[Pair]:
        """The pairs that alert: ``alerts.pairs``, or the headline pair by default."""
        if self.alerts.pairs is None:
            return [Pair(self.universe.crypto[0].symbol, self.universe.equities[0].symbol)]
        return [Pair.parse(text) for text in self.alerts.pairs]

    @model_validator(mode="after")
    def _alert_pairs_are_in_the_universe(self) -> Config:
        crypto = {c.symbol for c in self.universe.crypto}
        equities = {e.symbol for e in self.universe.equities}
        for index, pair in enumerate(self.alert_pairs if self.alerts.pairs else []):
            if pair.crypto not in crypto or pair.equity not in equities:
                raise _KeyedError(
                    ("alerts", "pairs", index),
                    f"{pair} is not a pair of the universe (crypto: {', '.join(sorted(crypto))}; "
                    f"equities: {', '.join(sorted(equities))})",
                )
        return self

    @model_validator(mode="after")
    def _baseline_longer_than_the_window(self) -> Config:
        window, baseline = self.analysis.headline_window, self.alerts.shift.baseline_sessions
        if baseline <= window:
            raise _KeyedError(
                ("alerts", "shift", "baseline_sessions"),
                f"{baseline} must exceed analysis.headline_window ({window}): the window is "
                "compared with the sessions before it",
            )
        return self

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
    if kind == "extra_forbidden" and loc in _REPLACED:
        return f"{key}: {_REPLACED[loc]}"
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


#: Keys of earlier versions, and what took their place.
_REPLACED: dict[tuple[str | int, ...], str] = {
    ("alerts", "spike"): (
        "replaced by alerts.shift, a test of change in co-movement against the sessions before "
        "the window (keys: z, rearm_z, baseline_sessions, settle_sessions, clip, vol_halflife, "
        "lead); its old keys have no equivalent: remove alerts.spike (see docs/configuration.md)"
    ),
}


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


def _bounded_repr() -> reprlib.Repr:
    bounded = reprlib.Repr()  # keyword arguments only from Python 3.12
    bounded.maxlevel, bounded.maxlist, bounded.maxdict = 2, 4, 4
    bounded.maxstring = bounded.maxother = 50
    return bounded


_SHORT_REPR = _bounded_repr()


def _short(value: Any) -> str:
    """A bounded repr: a huge or alias-bombed value is cut without being expanded first."""
    text = _SHORT_REPR.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
