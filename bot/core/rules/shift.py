"""Rule ``shift``: a significant change in correlation, up (coupling) or down (decoupling).

The test compares how the two legs co-move over the last ``window`` sessions with how they
co-moved over the ``baseline`` sessions before. Each leg is first divided by its own
volatility as known the session before (so a calm month and a crash weigh alike) and
clipped at ``clip`` of those units (so one outsized day, the common shock of a fat-tailed
market, cannot make a correlation on its own). The mean of the products of the two legs
over the window is then tested against the baseline's mean with the baseline's own spread:

    z = (mean_window - mean_baseline) / (sd_baseline * sqrt(1/window + 1/baseline))

The statistic fires at ``|z| >= z`` and re-arms once ``|z|`` has fallen under ``rearm_z``;
``settle_sessions`` sessions in a row under ``rearm_z`` after a fire mean the change has run
its course (the episode ends). Calibrated against nulls whose correlation never changes
(``corrbot calibrate``): on 2015-2021 BTC~PSCT the defaults raise 0.1 to 0.3 false alarms a
year across circular shifts, Gaussian, multivariate-t and real-volatility t histories.

With ``lead`` (for crypto sampled at the daily close, hours after the equity close) the
product of the crypto's previous session with the equity's session is added, so news that
reaches crypto before the equities still counts as moving together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bot.core.models import AlertKind, Direction
from bot.core.rules.base import PairInputs, RuleEvent, RuleOutput, events_where
from bot.core.rules.signals import devolatilized, rolling_mean, shifted

__all__ = ["KINDS", "NAME", "SETTING", "ShiftScan", "ShiftSettings", "describe", "run", "scan"]

NAME = "shift"
#: The chat setting (``/settings spikes on|silent|off``) that governs these alerts.
SETTING = "spikes"
KINDS = (AlertKind.SPIKE, AlertKind.DECOUPLING, AlertKind.SETTLED)


@dataclass(frozen=True, slots=True)
class ShiftSettings:
    """The knobs of ``alerts.shift``; these defaults are the product's defaults."""

    window: int = 30
    baseline: int = 250
    z: float = 3.0
    rearm_z: float = 1.0
    settle_sessions: int = 20
    clip: float = 3.0
    vol_halflife: float = 20.0
    lead: bool = False
    min_coverage: float = 0.8


@dataclass(frozen=True)
class ShiftScan:
    """Per path and session: the statistic and what the rule did."""

    z: np.ndarray
    up: np.ndarray  # fired upward (bool)
    down: np.ndarray  # fired downward (bool)
    settled: np.ndarray  # a change ran its course (bool)


def statistic(crypto: np.ndarray, equity: np.ndarray, settings: ShiftSettings) -> np.ndarray:
    """The z of co-movement over the window against the baseline before it."""
    clip = settings.clip
    warmup = max(10, math.ceil(settings.vol_halflife))
    u = np.clip(devolatilized(crypto, settings.vol_halflife, warmup), -clip, clip)
    v = np.clip(devolatilized(equity, settings.vol_halflife, warmup), -clip, clip)
    products = u * v
    if settings.lead:
        products = products + shifted(u, 1) * v
    window, baseline = settings.window, settings.baseline
    recent, _ = rolling_mean(products, window, math.ceil(settings.min_coverage * window))
    needed = math.ceil(settings.min_coverage * baseline)
    base_mean, _ = rolling_mean(products, baseline, needed)
    base_square, _ = rolling_mean(products * products, baseline, needed)
    before_mean = shifted(base_mean, window)
    before_var = shifted(base_square - base_mean**2, window)
    # No statistic "as of" a session without both returns (as for the correlation the alert
    # quotes): a fire there would disarm the rule with nothing to tell.
    missing = np.isnan(crypto) | np.isnan(equity)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.sqrt(before_var * (1 / window + 1 / baseline))
        z = np.where(scale > 0, (recent - before_mean) / scale, np.nan)
    return np.where(missing, np.nan, z)


def scan(crypto: np.ndarray, equity: np.ndarray, settings: ShiftSettings) -> ShiftScan:
    """Run the rule over every session of every path (returns of shape (paths, sessions))."""
    z = statistic(crypto, equity, settings)
    paths, sessions = z.shape
    up = np.zeros(z.shape, dtype=bool)
    down = np.zeros(z.shape, dtype=bool)
    settled = np.zeros(z.shape, dtype=bool)
    armed_up = np.ones(paths, dtype=bool)
    armed_down = np.ones(paths, dtype=bool)
    open_change = np.zeros(paths, dtype=bool)
    quiet = np.zeros(paths, dtype=np.int64)
    threshold, rearm = settings.z, settings.rearm_z
    for t in range(sessions):
        zt = z[:, t]
        known = ~np.isnan(zt)
        fire_up = armed_up & known & (zt >= threshold)
        fire_down = armed_down & known & (zt <= -threshold)
        up[:, t], down[:, t] = fire_up, fire_down
        calm = known & (np.abs(zt) < rearm)
        armed_up = (armed_up & ~fire_up) | (known & (zt < rearm))
        armed_down = (armed_down & ~fire_down) | (known & (zt > -rearm))
        fired = fire_up | fire_down
        quiet = np.where(fired | ~calm, 0, quiet + 1)
        done = open_change & ~fired & (quiet >= settings.settle_sessions)
        settled[:, t] = done
        open_change = (open_change & ~done) | fired
    return ShiftScan(z, up, down, settled)


def run(inputs: PairInputs, settings: ShiftSettings) -> RuleOutput:
    """The rule's events per history: rises and falls open episodes, settling closes them."""
    result = scan(inputs.crypto, inputs.equity, settings)
    events: list[list[RuleEvent]] = [[] for _ in range(result.z.shape[0])]
    for mask, kind in (
        (result.up, AlertKind.SPIKE),
        (result.down, AlertKind.DECOUPLING),
        (result.settled, AlertKind.SETTLED),
    ):
        for path, positions in enumerate(events_where(mask)):
            for position in positions:
                direction: Direction = "down" if kind is AlertKind.DECOUPLING else "up"
                opens, closes = kind is not AlertKind.SETTLED, kind is AlertKind.SETTLED
                events[path].append(RuleEvent(position, kind, direction, opens, closes))
    for path_events in events:
        path_events.sort(key=lambda event: event.position)
    return RuleOutput(events, {"z": result.z})


def describe(kind: AlertKind, crypto: str, equity: str) -> tuple[str, str]:
    """The title's verb and the lead: what the change means for a holder of both."""
    if kind is AlertKind.SPIKE:
        return (
            "is moving with",
            f"{crypto} now moves with {equity} more than it did over the past year, beyond "
            "what chance explains: tech shocks are carrying over to crypto.",
        )
    if kind is AlertKind.DECOUPLING:
        return (
            "is breaking away from",
            f"{crypto} now moves with {equity} less than it did over the past year, beyond "
            "what chance explains: its moves are more its own.",
        )
    return (
        "is back in line with",
        f"How {crypto} moves with {equity} is back in line with the past year: the change has "
        "run its course, or become the new normal.",
    )
