"""The whole configuration: the sections together, and the checks that span them.

:class:`Config` is what every command runs on. Its validators check what no single section
can: alert pairs drawn from the universe, a shift baseline longer than the headline window,
and the data sources given what they need (a csv folder, each crypto's exchange market).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from bot.config.alerts import AlertsConfig
from bot.config.errors import KeyedError
from bot.config.sections import (
    AnalysisConfig,
    DataConfig,
    DeliveryConfig,
    HealthConfig,
    LoggingConfig,
    MetricsConfig,
    ScheduleConfig,
    StorageConfig,
    StrictModel,
    TelegramConfig,
    UniverseConfig,
)
from bot.core.models import Pair

__all__ = ["Config"]


class Config(StrictModel):
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
                raise KeyedError(
                    ("alerts", "pairs", index),
                    f"{pair} is not a pair of the universe (crypto: {', '.join(sorted(crypto))}; "
                    f"equities: {', '.join(sorted(equities))})",
                )
        return self

    @model_validator(mode="after")
    def _baseline_longer_than_the_window(self) -> Config:
        window, baseline = self.analysis.headline_window, self.alerts.shift.baseline_sessions
        if baseline <= window:
            raise KeyedError(
                ("alerts", "shift", "baseline_sessions"),
                f"{baseline} must exceed analysis.headline_window ({window}): the window is "
                "compared with the sessions before it",
            )
        return self

    @model_validator(mode="after")
    def _sources_have_what_they_need(self) -> Config:
        data = self.data
        if "csv" in (data.crypto_source, data.equity_source) and data.csv_dir is None:
            raise KeyedError(
                ("data", "csv_dir"),
                "required (a folder of <ticker>.csv files) when a source is csv",
            )
        if data.crypto_source == "ccxt":
            for index, crypto in enumerate(self.universe.crypto):
                if crypto.ccxt is None:
                    raise KeyedError(
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


def _anchor(path: Path, base: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base / path
