"""The ``alerts`` section: which pairs alert, and the settings of the rules that decide.

Each rule's section takes its defaults from the rule's own settings in :mod:`bot.core.rules`
and builds them back with ``settings()``, so the engine's defaults and the configuration's are
one set of numbers (tuned with ``corrbot calibrate``). The bounds keep an operator from
configuring a rule that fires on noise or can never fire.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from bot.config.errors import KeyedError
from bot.config.sections import StrictModel
from bot.core.models import Pair
from bot.core.regimes import RegimeBands
from bot.core.rules.regime import RegimeSettings
from bot.core.rules.shift import ShiftSettings

__all__ = ["AlertsConfig", "RegimeConfig", "ShiftConfig"]

_SHIFT = ShiftSettings()
_REGIME = RegimeSettings()


class RegimeConfig(StrictModel):
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


class ShiftConfig(StrictModel):
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
            raise KeyedError(
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


class AlertsConfig(StrictModel):
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
