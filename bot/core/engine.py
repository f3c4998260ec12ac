"""The alert engine: a deterministic state machine over sessions, one per pair.

The same engine drives the live daily job, ``corrbot backtest`` and ``corrbot demo``, so a
backtest shows exactly what subscribers would have received. Its state (regime, pending
confirmation, last spike per direction, last session seen) is a small frozen value that the
service persists in the store between runs.

Rules, on the alert window's correlation ``r`` of each alerting pair:

* **regime**: ``r`` is classified into a band with hysteresis; a band different from the
  current regime must hold for ``confirm_sessions`` consecutive sessions to become the new
  regime, which is an alert.
* **spike / decoupling**: ``r`` against the previous non-overlapping window ``r_prev``: the
  standardized Fisher z difference at or beyond ``spike_z`` *and* ``|r - r_prev|`` at or
  beyond ``spike_min_change``. The same direction then cools down for ``cooldown_sessions``,
  unless a larger move (``override_z`` more) comes through.

Live runs differ from a backtest in two ways: a pair seen for the first time is warmed up
silently over its history (a new bot must not announce years-old events), and after
downtime the missed sessions are replayed for state but summarized as one net regime change
instead of a burst of stale alerts.
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Literal

import pandas as pd

from bot.core.analytics import spike_statistic
from bot.core.models import Alert, AlertKind, Pair
from bot.core.regimes import RegimeBands

__all__ = ["AlertEngine", "AlertSettings", "Mode", "PairState"]

Mode = Literal["live", "backtest"]


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """The knobs of ``alerts.*``."""

    window: int = 30
    bands: RegimeBands = field(default_factory=RegimeBands)
    confirm_sessions: int = 3
    spike_z: float = 2.5
    spike_min_change: float = 0.3
    cooldown_sessions: int = 10
    override_z: float = 1.0


@dataclass(frozen=True, slots=True)
class PairState:
    """What the engine remembers about one pair between sessions."""

    regime: str | None = None
    pending: str | None = None
    pending_count: int = 0
    last_session: date | None = None
    last_corr: float | None = None
    last_up: date | None = None
    last_up_z: float = 0.0
    last_down: date | None = None
    last_down_z: float = 0.0

    def to_json(self) -> str:
        """Serialize for the store."""
        data = asdict(self)
        for key in ("last_session", "last_up", "last_down"):
            data[key] = None if data[key] is None else data[key].isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PairState:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        for key in ("last_session", "last_up", "last_down"):
            data[key] = None if data[key] is None else date.fromisoformat(data[key])
        return cls(**data)


class AlertEngine:
    """Advances pair states over sessions and says which alerts they produce."""

    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings

    def advance(
        self,
        pair: Pair,
        corr: pd.Series,
        prev_corr: pd.Series,
        state: PairState,
        *,
        mode: Mode,
        until: date | None = None,
    ) -> tuple[PairState, list[Alert]]:
        """Process every session after ``state.last_session`` (up to ``until``)."""
        window = self.settings.window
        stats = spike_statistic(corr, prev_corr, window)
        sessions = pd.DatetimeIndex(corr.index)
        start = 0
        if state.last_session is not None:
            start = int(sessions.searchsorted(pd.Timestamp(state.last_session), side="right"))
        stop = len(sessions)
        if until is not None:
            stop = int(sessions.searchsorted(pd.Timestamp(until), side="right"))
        if start >= stop:
            return state, []
        begin = state
        events: list[Alert] = []
        days = list(sessions.date)
        values = corr.to_numpy(dtype="float64").tolist()
        befores = prev_corr.to_numpy(dtype="float64").tolist()
        zs = stats.to_numpy(dtype="float64").tolist()
        for position in range(start, stop):
            state, found = self._step(
                pair,
                state,
                days=days,
                position=position,
                corr=values[position],
                before=befores[position],
                z=zs[position],
            )
            events.extend(found)
        last_seen = next(
            (p for p in range(stop - 1, start - 1, -1) if not math.isnan(values[p])), None
        )
        state = replace(
            state,
            last_session=days[stop - 1],
            last_corr=values[last_seen] if last_seen is not None else state.last_corr,
        )
        if mode == "backtest":
            return state, events
        if begin.last_session is None:
            return state, []  # first sight of this pair: warm up silently
        if stop - start == 1:
            return state, events
        return state, self._summarize(pair, begin, state, events, days[stop - 1])

    def _step(
        self,
        pair: Pair,
        state: PairState,
        *,
        days: list[date],
        position: int,
        corr: float,
        before: float,
        z: float,
    ) -> tuple[PairState, list[Alert]]:
        if math.isnan(corr):
            return state, []
        session = days[position]
        alerts: list[Alert] = []
        state, regime_alert = self._regime(
            pair, state, session=session, corr=corr, before=before, z=z
        )
        if regime_alert is not None:
            alerts.append(regime_alert)
        if not math.isnan(before) and not math.isnan(z):
            state, spike = self._spike(
                pair, state, days=days, position=position, corr=corr, before=before, z=z
            )
            if spike is not None:
                alerts.append(spike)
        return state, alerts

    def _regime(
        self, pair: Pair, state: PairState, *, session: date, corr: float, before: float, z: float
    ) -> tuple[PairState, Alert | None]:
        bands = self.settings.bands
        if state.regime is None:
            return replace(state, regime=bands.plain(corr)), None
        candidate = bands.classify(corr, state.regime)
        if candidate == state.regime:
            if state.pending is None:
                return state, None  # the common case: nothing changes, nothing to copy
            return replace(state, pending=None, pending_count=0), None
        count = state.pending_count + 1 if candidate == state.pending else 1
        if count < self.settings.confirm_sessions:
            return replace(state, pending=candidate, pending_count=count), None
        alert = Alert(
            AlertKind.REGIME,
            pair,
            self.settings.window,
            session,
            corr,
            before,
            z,
            regime_from=state.regime,
            regime_to=candidate,
        )
        return replace(state, regime=candidate, pending=None, pending_count=0), alert

    def _spike(
        self,
        pair: Pair,
        state: PairState,
        *,
        days: list[date],
        position: int,
        corr: float,
        before: float,
        z: float,
    ) -> tuple[PairState, Alert | None]:
        settings = self.settings
        session = days[position]
        change = corr - before
        if z >= settings.spike_z and change >= settings.spike_min_change:
            kind, last, last_z = AlertKind.SPIKE, state.last_up, state.last_up_z
        elif z <= -settings.spike_z and change <= -settings.spike_min_change:
            kind, last, last_z = AlertKind.DECOUPLING, state.last_down, state.last_down_z
        else:
            return state, None
        if last is not None:
            elapsed = position - bisect.bisect_left(days, last)
            if elapsed < settings.cooldown_sessions and abs(z) < abs(last_z) + settings.override_z:
                return state, None
        alert = Alert(
            kind,
            pair,
            settings.window,
            session,
            corr,
            before,
            z,
            regime_from=state.regime,
            regime_to=state.regime,
        )
        if kind is AlertKind.SPIKE:
            return replace(state, last_up=session, last_up_z=z), alert
        return replace(state, last_down=session, last_down_z=z), alert

    def _summarize(
        self, pair: Pair, begin: PairState, end: PairState, events: list[Alert], last: date
    ) -> list[Alert]:
        """After downtime: the net regime change once, plus what fired on the last session."""
        summary: list[Alert] = []
        if begin.regime is not None and end.regime != begin.regime and end.last_corr is not None:
            latest = next((a for a in reversed(events) if a.session == last), None)
            summary.append(
                Alert(
                    AlertKind.REGIME,
                    pair,
                    self.settings.window,
                    last,
                    end.last_corr,
                    begin.last_corr if begin.last_corr is not None else math.nan,
                    latest.z if latest is not None else math.nan,
                    regime_from=begin.regime,
                    regime_to=end.regime,
                    catch_up=True,
                    since=begin.last_session,
                )
            )
        summary.extend(a for a in events if a.session == last and a.kind is not AlertKind.REGIME)
        return summary
