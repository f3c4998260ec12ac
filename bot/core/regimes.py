"""Correlation regimes: bands on the headline-window correlation, with hysteresis.

``inverse`` below -0.2, ``decoupled`` to 0.2, ``linked`` to 0.5, ``coupled`` from 0.5 (edges
configurable). A correlation sitting on an edge would flap between two bands every other
day; so leaving the current band requires crossing its edge by ``hysteresis``, and the
alert engine further requires a few consecutive sessions in the new band.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["REGIMES", "RegimeBands"]

REGIMES: tuple[str, ...] = ("inverse", "decoupled", "linked", "coupled")


@dataclass(frozen=True, slots=True)
class RegimeBands:
    """Three ascending edges split the correlation axis into the four regimes."""

    edges: tuple[float, float, float] = (-0.2, 0.2, 0.5)
    hysteresis: float = 0.05

    def __post_init__(self) -> None:
        if list(self.edges) != sorted(self.edges) or len(set(self.edges)) != 3:
            raise ValueError("regime edges must be three strictly ascending numbers")

    def plain(self, corr: float) -> str:
        """The band ``corr`` falls in, edges belonging to the band above."""
        return REGIMES[bisect.bisect_right(self.edges, corr)]

    def bounds(self, regime: str) -> tuple[float, float]:
        """Lower (inclusive) and upper (exclusive) correlation of ``regime``."""
        index = REGIMES.index(regime)
        lows: Sequence[float] = (-math.inf, *self.edges)
        highs: Sequence[float] = (*self.edges, math.inf)
        return lows[index], highs[index]

    def classify(self, corr: float, current: str | None) -> str:
        """The band ``corr`` belongs to, staying in ``current`` inside its widened edges."""
        if current is not None:
            low, high = self.bounds(current)
            if low - self.hysteresis <= corr < high + self.hysteresis:
                return current
        return self.plain(corr)
