"""Rule ``regime``: which band the headline correlation sits in, with hysteresis.

``inverse`` below -0.2, ``decoupled`` to 0.2, ``linked`` to 0.5, ``coupled`` from 0.5 (edges
configurable). Leaving the current band requires crossing its edge by ``hysteresis`` and
staying in the new band for ``confirm_sessions`` sessions in a row.

A band is a description, not a test: a 30-session correlation's 95% interval spans about
0.6, wider than any band, and on histories whose correlation never changes the bands are
crossed several times a year. So a regime change never pushes a notification by itself: it
is told as a silent follow-up inside an episode that a significant change
(:mod:`bot.core.rules.shift`) opened, and shown by ``/corr`` at all times.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bot.core.models import AlertKind
from bot.core.regimes import REGIMES, RegimeBands
from bot.core.rules.base import PairInputs, RuleEvent, RuleOutput, events_where

__all__ = ["KINDS", "NAME", "SETTING", "RegimeScan", "RegimeSettings", "describe", "run", "scan"]

NAME = "regime"
#: The chat setting (``/settings regimes on|silent|off``) that governs these follow-ups.
SETTING = "regimes"
KINDS = (AlertKind.REGIME,)


@dataclass(frozen=True, slots=True)
class RegimeSettings:
    """The knobs of ``alerts.regime``; these defaults are the product's defaults."""

    bands: RegimeBands = field(default_factory=RegimeBands)
    confirm_sessions: int = 3


@dataclass(frozen=True)
class RegimeScan:
    """Per path and session: the regime (index into :data:`REGIMES`, -1 before any)."""

    regime: np.ndarray
    changed: np.ndarray  # the regime changed on this session (bool)


def scan(corr: np.ndarray, settings: RegimeSettings) -> RegimeScan:
    """Classify every session of every path (``corr`` of shape (paths, sessions))."""
    edges = np.array(settings.bands.edges)
    hysteresis = settings.bands.hysteresis
    lows = np.concatenate([[-np.inf], edges]) - hysteresis
    highs = np.concatenate([edges, [np.inf]]) + hysteresis
    plain = np.searchsorted(edges, np.nan_to_num(corr), side="right")
    paths, sessions = corr.shape
    regime = np.full(paths, -1)
    pending = np.full(paths, -1)
    count = np.zeros(paths, dtype=np.int64)
    regimes = np.full(corr.shape, -1)
    changed = np.zeros(corr.shape, dtype=bool)
    for t in range(sessions):
        ct = corr[:, t]
        known = ~np.isnan(ct)
        regime = np.where(known & (regime < 0), plain[:, t], regime)
        current = np.clip(regime, 0, len(REGIMES) - 1)
        inside = (ct >= lows[current]) & (ct < highs[current])
        moving = known & (regime >= 0) & ~inside
        candidate = plain[:, t]
        count = np.where(
            moving, np.where(candidate == pending, count + 1, 1), np.where(known, 0, count)
        )
        pending = np.where(moving, candidate, np.where(known, -1, pending))
        fire = moving & (count >= settings.confirm_sessions)
        changed[:, t] = fire
        regime = np.where(fire, candidate, regime)
        pending = np.where(fire, -1, pending)
        count = np.where(fire, 0, count)
        regimes[:, t] = regime
    return RegimeScan(regimes, changed)


def run(inputs: PairInputs, settings: RegimeSettings) -> RuleOutput:
    """Band changes per history: follow-ups, which never open an episode."""
    result = scan(inputs.corr, settings)
    events: list[list[RuleEvent]] = []
    for path, positions in enumerate(events_where(result.changed)):
        path_events = []
        for position in positions:
            before = int(result.regime[path, position - 1]) if position else -1
            after = int(result.regime[path, position])
            path_events.append(
                RuleEvent(
                    position,
                    AlertKind.REGIME,
                    "up" if after > before else "down",
                    regime_from=REGIMES[before] if before >= 0 else None,
                    regime_to=REGIMES[after],
                )
            )
        events.append(path_events)
    return RuleOutput(events, {"regime": result.regime})


def describe(regime: str, crypto: str, equity: str) -> str:
    """What a regime means for a holder of both."""
    return _MEANING[regime].format(c=crypto, e=equity)


_MEANING = {
    "coupled": "{c} is trading as a tech proxy: shocks to {e} reach crypto.",
    "linked": "{c} moves partly with {e}: tech news matters, but not alone.",
    "decoupled": "{c} is moving on its own: {e} explains little of it.",
    "inverse": "{c} is moving against {e}: a rare hedge-like pattern.",
}
