"""What every rule takes and gives: a pair's histories in, events per history out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from bot.core.models import AlertKind, Direction

__all__ = ["PairInputs", "RuleEvent", "RuleOutput", "events_where"]


@dataclass(frozen=True)
class PairInputs:
    """One pair over many histories: arrays of shape (paths, sessions).

    ``corr`` is the headline correlation the messages show (over the alert window, with
    the sampling's asynchrony correction when there is one).
    """

    crypto: np.ndarray
    equity: np.ndarray
    corr: np.ndarray


@dataclass(frozen=True, slots=True)
class RuleEvent:
    """Something a rule saw on one session of one history.

    ``opens`` events may start an episode and notify; the others are follow-ups, told only
    inside an episode; ``closes`` ends it.
    """

    position: int  # index of the session in the history
    kind: AlertKind
    direction: Direction
    opens: bool = False
    closes: bool = False
    regime_from: str | None = None
    regime_to: str | None = None


@dataclass(frozen=True)
class RuleOutput:
    """A rule's events per history, and the per-session series its messages quote."""

    events: list[list[RuleEvent]]
    series: Mapping[str, np.ndarray] = field(default_factory=dict)


def events_where(mask: np.ndarray) -> list[list[int]]:
    """Per path, the positions where ``mask`` (paths, sessions) is true, in order."""
    paths, positions = np.nonzero(mask)
    grouped: list[list[int]] = [[] for _ in range(mask.shape[0])]
    for path, position in zip(paths.tolist(), positions.tolist(), strict=True):
        grouped[path].append(position)
    return grouped
