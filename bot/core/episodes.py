"""Episodes: one push when a change starts, silent replies while it lasts, a reply when it ends.

A significant change (rule ``shift``) opens an episode for its pair and notifies. What
follows inside it (the correlation moving to another band, a further change the same way,
the change running its course) goes as a silent reply to that first message. A change the
other way opens a new episode and notifies again: the regime changed again. So a subscriber
who reads only the pushes learns every change that matters, and nothing twice.

The tracker is a pure function of the events, the same for the live bot, the backtest and
the calibration, whose false-alarm rates count the notifying alerts it lets through.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from bot.core.models import Alert, AlertKind, Direction

__all__ = ["Episode", "follow"]


@dataclass(frozen=True, slots=True)
class Episode:
    """An open episode: the alert that opened it and what the correlation was then.

    ``told`` is false for an episode that opened while the bot was warming up (nobody
    received its first message): its follow-ups are not sent either.
    """

    key: str
    direction: Direction
    opened: date
    corr: float
    lower: float
    upper: float
    told: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (NaN becomes null)."""
        data = asdict(self)
        data["opened"] = self.opened.isoformat()
        for name in ("corr", "lower", "upper"):
            data[name] = None if math.isnan(data[name]) else data[name]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        """Inverse of :meth:`to_dict`."""
        return cls(
            key=str(data["key"]),
            direction="down" if data["direction"] == "down" else "up",
            opened=date.fromisoformat(str(data["opened"])),
            corr=_number(data.get("corr")),
            lower=_number(data.get("lower")),
            upper=_number(data.get("upper")),
            told=bool(data.get("told", True)),
        )

    def to_json(self) -> str:
        """Serialize."""
        return json.dumps(self.to_dict(), sort_keys=True)


def _number(value: object) -> float:
    return math.nan if value is None else float(str(value))


def follow(
    episode: Episode | None, alert: Alert, *, opens: bool, closes: bool, told: bool
) -> tuple[Episode | None, Alert | None]:
    """What ``alert`` becomes given the open ``episode``: the episode after, and the alert.

    The alert comes back with ``notify`` and ``episode`` set, or ``None`` when nobody is
    to be told (a follow-up outside an episode, or inside one nobody was told about).
    ``told`` says whether an episode opened now counts as told (false while warming up).
    """
    if opens and (episode is None or episode.direction != alert.direction):
        opened = Episode(
            alert.key, alert.direction, alert.session, alert.corr, alert.lower, alert.upper, told
        )
        return opened, replace(alert, notify=True, episode=alert.key)
    if episode is None:
        return None, None
    after = None if closes else episode
    if not episode.told:
        return after, None
    follow_up = replace(alert, notify=False, episode=episode.key)
    if closes:  # the end of a change goes the way the change went
        follow_up = replace(follow_up, direction=episode.direction)
    if alert.kind in (AlertKind.REGIME, AlertKind.SETTLED):  # compared with the episode's start
        follow_up = replace(
            follow_up, prev_corr=episode.corr, prev_lower=episode.lower, prev_upper=episode.upper
        )
    return after, follow_up
