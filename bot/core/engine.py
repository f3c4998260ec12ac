"""The alert engine: the rules over a pair's history, then episodes, as alerts.

The same engine drives the live daily job, ``corrbot backtest``, ``corrbot demo`` and
``corrbot calibrate``, so what a backtest or a calibration shows is what subscribers get.
Every rule scans the whole history at once (vectorized, :mod:`bot.core.rules`); the engine
then walks the events of the sessions not seen yet through the episode tracker
(:mod:`bot.core.episodes`), from the state the store kept.

Live runs differ from a backtest in two ways: a pair seen for the first time is warmed up
silently over its history (a new bot must not announce years-old events), and after
downtime the missed sessions are summarized as the net change, told once, instead of a
burst of stale alerts.

Long because warming up, walking new sessions and summarizing downtime share the state they
advance; each is a short method, and the state's JSON form lives with it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from bot.core.episodes import Episode, follow
from bot.core.models import Alert, AlertKind, Pair
from bot.core.regimes import REGIMES
from bot.core.rules import RULES
from bot.core.rules.base import PairInputs, RuleEvent, RuleOutput
from bot.core.rules.regime import RegimeSettings
from bot.core.rules.shift import ShiftSettings
from bot.core.rules.signals import rolling_corr, shifted
from bot.core.stats import fisher_intervals

__all__ = ["AlertEngine", "AlertSettings", "Mode", "PairScan", "PairState"]

Mode = Literal["live", "backtest"]


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Every rule's settings, by rule name; the defaults are the product's defaults."""

    shift: ShiftSettings = field(default_factory=ShiftSettings)
    regime: RegimeSettings = field(default_factory=RegimeSettings)

    @property
    def window(self) -> int:
        """The sessions an alert's correlation is measured over."""
        return self.shift.window

    @property
    def variance(self) -> float:
        """Fisher-z variance factor of the alert correlation: 2 when it sums two lags."""
        return 2.0 if self.shift.lead else 1.0


@dataclass(frozen=True, slots=True)
class PairState:
    """What the engine remembers about one pair between runs."""

    last_session: date | None = None
    episode: Episode | None = None

    def to_json(self) -> str:
        """Serialize for the store."""
        return json.dumps(
            {
                "last_session": None
                if self.last_session is None
                else self.last_session.isoformat(),
                "episode": None if self.episode is None else self.episode.to_dict(),
            },
            sort_keys=True,
        )

    def reopened(self, first: date, sessions: Sequence[date]) -> PairState:
        """The state as if the engine had stopped before session ``first`` (prices revised).

        The last session seen moves back to the session before ``first``; an episode that
        opened on or after it came from the old prices and is forgotten (walking the
        sessions again re-opens it under the same key if the new prices still show it, and
        an alert is recorded once per key). Earlier states are kept as they are.
        """
        if self.last_session is None or self.last_session < first:
            return self
        before = [day for day in sessions if day < first]
        last = before[-1] if before else None
        if last is None:  # nothing left before the revision: replay the whole history
            return PairState()
        episode = self.episode
        if episode is not None and episode.opened >= first:
            episode = None
        return PairState(last_session=last, episode=episode)

    @classmethod
    def from_json(cls, text: str) -> PairState:
        """Inverse of :meth:`to_json`; states of earlier versions keep their last session."""
        data = json.loads(text)
        last = data.get("last_session")
        episode = data.get("episode")
        return cls(
            last_session=None if last is None else date.fromisoformat(last),
            episode=None if not isinstance(episode, dict) else Episode.from_dict(episode),
        )


@dataclass(frozen=True)
class PairScan:
    """One pair's history through every rule: the numbers and the events, per session."""

    pair: Pair
    sessions: tuple[date, ...]
    corr: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    base_corr: np.ndarray
    base_lower: np.ndarray
    base_upper: np.ndarray
    z: np.ndarray
    regime: np.ndarray
    events: tuple[RuleEvent, ...]

    def regime_at(self, position: int) -> str | None:
        """The regime on session ``position``, if classified yet."""
        index = int(self.regime[position]) if 0 <= position < len(self.regime) else -1
        return REGIMES[index] if index >= 0 else None


class AlertEngine:
    """Runs the rules over histories and turns their events into alerts."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    def inputs(self, crypto: np.ndarray, equity: np.ndarray) -> PairInputs:
        """What the rules read, for histories of shape (paths, sessions)."""
        corr, _ = self.correlation(crypto, equity, self.settings.window)
        return PairInputs(crypto, equity, corr)

    def correlation(
        self, crypto: np.ndarray, equity: np.ndarray, window: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The alert correlation over ``window`` sessions and the sessions it used.

        No correlation "as of" a session without both returns: the numbers must not outlive
        the data. With ``lead`` the next-session term is added (see :mod:`bot.core.stats`).
        """
        shift = self.settings.shift
        needed = max(3, math.ceil(round(shift.min_coverage * window, 9)))
        corr, sessions = rolling_corr(crypto, equity, window, needed)
        if shift.lead:
            lead, _ = rolling_corr(shifted(crypto, 1), equity, window, needed)
            corr = corr + lead
        present = ~(np.isnan(crypto) | np.isnan(equity))
        return np.where(_before_full_window(present, window), np.nan, corr), sessions

    def outputs(self, inputs: PairInputs) -> dict[str, RuleOutput]:
        """Every rule's output, by rule name."""
        return {rule.NAME: rule.run(inputs, getattr(self.settings, rule.NAME)) for rule in RULES}

    def run(self, inputs: PairInputs) -> list[list[RuleEvent]]:
        """Every rule's events per history, in session order (rules in registry order)."""
        return _merged(self.outputs(inputs), inputs.crypto.shape[0])

    def scan(self, pair: Pair, crypto: pd.Series, equity: pd.Series) -> PairScan:
        """The live or backtest history of one pair through every rule."""
        sessions = tuple(pd.DatetimeIndex(crypto.index).date)
        c = crypto.to_numpy(dtype="float64")[None, :]
        e = equity.to_numpy(dtype="float64")[None, :]
        [scan] = self._scans([pair], sessions, c, e)
        return scan

    def scan_pairs(self, pairs: Sequence[Pair], returns: pd.DataFrame) -> list[PairScan]:
        """Every pair's history in ``returns`` (a column per symbol) through the rules at once.

        The pairs share their sessions, so they go through the rules as the paths of one
        pass: the rules' per-session loop runs once, not once per pair.
        """
        if not pairs:
            return []
        sessions = tuple(pd.DatetimeIndex(returns.index).date)
        crypto = np.vstack([returns[p.crypto].to_numpy(dtype="float64") for p in pairs])
        equity = np.vstack([returns[p.equity].to_numpy(dtype="float64") for p in pairs])
        return self._scans(list(pairs), sessions, crypto, equity)

    def scans(
        self, pair: Pair, sessions: tuple[date, ...], crypto: np.ndarray, equity: np.ndarray
    ) -> list[PairScan]:
        """Many histories of one pair (returns of shape (paths, sessions)) at once.

        Calibration runs a thousand null histories through here in one pass; the live bot
        and the backtest run the real histories of their pairs (:meth:`scan_pairs`).
        """
        return self._scans([pair] * crypto.shape[0], sessions, crypto, equity)

    def _scans(
        self, pairs: list[Pair], sessions: tuple[date, ...], crypto: np.ndarray, equity: np.ndarray
    ) -> list[PairScan]:
        """Histories of shape (paths, sessions) through every rule; ``pairs`` names each path."""
        settings = self.settings
        inputs = self.inputs(crypto, equity)
        _, used = self.correlation(crypto, equity, settings.window)
        lower, upper = fisher_intervals(inputs.corr, used, variance=settings.variance)
        base, base_used = self.correlation(crypto, equity, settings.shift.baseline)
        base = shifted(base, settings.window)
        base_used = shifted(base_used, settings.window)
        base_lower, base_upper = fisher_intervals(base, base_used, variance=settings.variance)
        outputs = self.outputs(inputs)
        z, regime = outputs["shift"].series["z"], outputs["regime"].series["regime"]
        return [
            PairScan(
                pair=pairs[path],
                sessions=sessions,
                corr=inputs.corr[path],
                lower=lower[path],
                upper=upper[path],
                base_corr=base[path],
                base_lower=base_lower[path],
                base_upper=base_upper[path],
                z=z[path],
                regime=regime[path],
                events=tuple(events),
            )
            for path, events in enumerate(_merged(outputs, crypto.shape[0]))
        ]

    def advance(
        self,
        scan: PairScan,
        state: PairState,
        *,
        mode: Mode,
        until: date | None = None,
        told: bool = True,
    ) -> tuple[PairState, list[Alert]]:
        """Walk the events after ``state.last_session`` (up to ``until``) through episodes.

        ``told=False`` walks silently (a warm-up): episodes open, nobody hears of them.
        """
        sessions = scan.sessions
        start = 0 if state.last_session is None else _after(sessions, state.last_session)
        stop = len(sessions) if until is None else _after(sessions, until)
        if start >= stop:
            return state, []
        first_sight = state.last_session is None and mode == "live"
        quiet = first_sight or not told
        episode = state.episode
        alerts: list[Alert] = []
        for event in scan.events:
            if not start <= event.position < stop:
                continue
            candidate = self._alert(scan, event)
            if candidate is None:
                continue
            episode, alert = follow(
                episode, candidate, opens=event.opens, closes=event.closes, told=not quiet
            )
            if alert is not None and not quiet:
                alerts.append(alert)
        end = replace(state, last_session=sessions[stop - 1], episode=episode)
        if mode == "backtest" or stop - start == 1 or first_sight:
            return end, alerts
        return end, _summarize(state, end, alerts)

    def _alert(self, scan: PairScan, event: RuleEvent) -> Alert | None:
        """The alert an event stands for, with the numbers of its session."""
        t = event.position
        corr = float(scan.corr[t])
        if math.isnan(corr):
            return None
        regime_now = scan.regime_at(t)
        return Alert(
            kind=event.kind,
            pair=scan.pair,
            window=self.settings.window,
            session=scan.sessions[t],
            corr=corr,
            prev_corr=float(scan.base_corr[t]),
            z=float(scan.z[t]),
            regime_from=event.regime_from or regime_now,
            regime_to=event.regime_to or regime_now,
            direction=event.direction,
            lower=float(scan.lower[t]),
            upper=float(scan.upper[t]),
            prev_lower=float(scan.base_lower[t]),
            prev_upper=float(scan.base_upper[t]),
        )


def _before_full_window(present: np.ndarray, window: int) -> np.ndarray:
    """Per path, True on a missing session or before the path's own first full window.

    Counted from each history's first session with both returns, as the analytics do, so a
    pair listed late is not alerted on a partial window the snapshot would not show.
    """
    first = np.where(present.any(axis=1), present.argmax(axis=1), present.shape[1])
    positions = np.arange(present.shape[1])[None, :]
    head: np.ndarray = positions < first[:, None] + window - 1
    return np.asarray(head | ~present, dtype=bool)


def _after(sessions: tuple[date, ...], day: date) -> int:
    """Index of the first session after ``day``."""
    return int(np.searchsorted(_days(sessions), np.datetime64(day), "right"))


@lru_cache(maxsize=8)
def _days(sessions: tuple[date, ...]) -> np.ndarray:
    """The sessions as an array, converted once.

    A calibration walks thousands of paths over the same sessions.
    """
    return np.array(sessions, dtype="datetime64[D]")


def _merged(outputs: dict[str, RuleOutput], paths: int) -> list[list[RuleEvent]]:
    """Per history, every rule's events by session, rules of one session in registry order."""
    keyed: list[list[tuple[int, int, RuleEvent]]] = [[] for _ in range(paths)]
    for order, rule in enumerate(RULES):
        for path, events in enumerate(outputs[rule.NAME].events):
            keyed[path].extend((event.position, order, event) for event in events)
    return [[event for _, _, event in sorted(path, key=lambda item: item[:2])] for path in keyed]


def _summarize(begin: PairState, end: PairState, alerts: list[Alert]) -> list[Alert]:
    """After downtime: the episode that opened meanwhile, once, and the end of the old one."""
    summary: list[Alert] = []
    before, after = begin.episode, end.episode
    if after is not None and after.told and (before is None or before.key != after.key):
        opening = next((a for a in alerts if a.key == after.key), None)
        if opening is not None:
            summary.append(replace(opening, catch_up=True, since=begin.last_session))
    if before is not None and (after is None or after.key != before.key):
        ending = [a for a in alerts if a.episode == before.key and a.kind is AlertKind.SETTLED]
        summary.extend(ending[-1:])
    return summary
