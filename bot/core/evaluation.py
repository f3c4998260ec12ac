"""From aligned returns to analytics, engine states, alerts and a snapshot.

This is the one place the live daily job, ``corrbot backtest`` and ``corrbot demo`` meet
the analytics and the alert engine, so what a backtest shows is exactly what the live bot
would have sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

from bot.core.analytics import Analytics, compute_analytics
from bot.core.engine import AlertEngine, Mode, PairScan, PairState
from bot.core.message import Message, Wording
from bot.core.models import Alert, AlertKind, Pair, QualityIssue, QualityKind
from bot.core.snapshot import Snapshot, build_snapshot

__all__ = ["AnalysisSettings", "Evaluation", "Evaluator"]


@dataclass(frozen=True, slots=True)
class AnalysisSettings:
    """The knobs of ``analysis.*``."""

    windows: tuple[int, ...] = (30, 90)
    headline_window: int = 30
    ewm_halflife: float = 20.0
    min_coverage: float = 0.8


@dataclass(frozen=True)
class Evaluation:
    """The outcome of running the engine over some sessions."""

    analytics: Analytics
    states: Mapping[Pair, PairState]
    alerts: Sequence[tuple[Alert, Message]]  # each with what subscribers read
    snapshot: Snapshot | None
    held_back: Mapping[Pair, Sequence[QualityIssue]]  # pairs not advanced: bad data


class Evaluator:
    """Runs analytics and the alert engine for the configured pairs."""

    def __init__(
        self,
        *,
        crypto: Sequence[str],
        equities: Sequence[str],
        alert_pairs: Sequence[Pair],
        analysis: AnalysisSettings,
        engine: AlertEngine,
        labels: Mapping[str, str],
        wording: Wording,
    ) -> None:
        self.crypto = tuple(crypto)
        self.equities = tuple(equities)
        self.alert_pairs = tuple(alert_pairs)
        self.analysis = analysis
        self.engine = engine
        self.labels = dict(labels)
        #: How alerts (and the digest) are put into words: the core decides what, not how.
        self.wording = wording

    def analytics(self, returns: pd.DataFrame) -> Analytics:
        """Every pair and window over ``returns``."""
        return compute_analytics(
            returns,
            self.crypto,
            self.equities,
            self.analysis.windows,
            halflife=self.analysis.ewm_halflife,
            min_coverage=self.analysis.min_coverage,
        )

    def evaluate(
        self,
        returns: pd.DataFrame,
        states: Mapping[Pair, PairState],
        *,
        mode: Mode,
        issues: Sequence[QualityIssue] = (),
        start: date | None = None,
        end: date | None = None,
    ) -> Evaluation:
        """Advance every alerting pair, hold back those with stale or broken data.

        With ``start`` (backtests) the engine first warms up silently on the sessions
        before it, exactly as a bot started on that day would have. A pair held back on its
        very first live run still warms up on the sessions before the bad data, so the run
        that recovers tells what changed meanwhile once, as after downtime.
        """
        analytics = self.analytics(returns)
        new_states: dict[Pair, PairState] = {}
        alerts: list[Alert] = []
        held_back: dict[Pair, list[QualityIssue]] = {}
        regimes: dict[Pair, str | None] = {}
        scans = self.engine.scan_pairs(self.alert_pairs, returns)
        for pair, scan in zip(self.alert_pairs, scans, strict=True):
            state = states.get(pair, PairState())
            blocking = self._blocking(pair, issues, analytics.sessions)
            if blocking:
                held_back[pair] = blocking
                if state.last_session is None and mode == "live":
                    # A first run held back still warms up, silently, on the sessions before
                    # the bad data: the run that recovers then catches up over the rest as
                    # after downtime (the net change told once), instead of warming up
                    # silently over it, which would never tell the change.
                    warm = _before_blocked(returns, pair, blocking, end)
                    if warm is not None:
                        state, _ = self.engine.advance(scan, state, mode=mode, until=warm)
                new_states[pair] = state
                regimes[pair] = _regime_as_of(scan, state.last_session)
                continue
            if start is not None and state.last_session is None:
                before_start = (pd.Timestamp(start) - pd.Timedelta(days=1)).date()
                state, _ = self.engine.advance(
                    scan, state, mode="backtest", until=before_start, told=False
                )
            until = _last_complete_session(returns, pair, end)
            if until is None:  # not one session with both prices yet
                new_states[pair] = state
                regimes[pair] = None
                continue
            state, found = self.engine.advance(scan, state, mode=mode, until=until)
            new_states[pair] = state
            regimes[pair] = _regime_as_of(scan, state.last_session)
            alerts.extend(found)
        alerts.sort(key=lambda a: (a.session, str(a.pair), _KIND_ORDER[a.kind]))
        snapshot = self.snapshot(analytics, regimes, issues, at=end)
        contexts: dict[date, Snapshot | None] = {}
        if snapshot is not None:
            contexts[snapshot.as_of] = snapshot
        messages = []
        for alert in alerts:
            if alert.session not in contexts:  # alerts of one session share their context
                contexts[alert.session] = self.snapshot(analytics, regimes, at=alert.session)
            messages.append((alert, self.wording.alert(alert, contexts[alert.session])))
        return Evaluation(analytics, new_states, messages, snapshot, held_back)

    def snapshot(
        self,
        analytics: Analytics,
        regimes: Mapping[Pair, str | None],
        issues: Sequence[QualityIssue] = (),
        *,
        at: date | None = None,
    ) -> Snapshot | None:
        """The snapshot at ``at`` (default: the latest session)."""
        return build_snapshot(
            analytics,
            headline_window=self.analysis.headline_window,
            bands=self.engine.settings.regime.bands,
            regimes=regimes,
            labels=self.labels,
            issues=issues,
            at=at,
        )

    def _blocking(
        self, pair: Pair, issues: Sequence[QualityIssue], sessions: pd.DatetimeIndex
    ) -> list[QualityIssue]:
        """Stale data, failed fetches, and broken or suspect prices inside the span the rules read.

        A suspect price (an outlier on the latest session, or a tick that went straight
        back) blocks while it is among the last two headline windows, where the correlation
        and the baseline it is compared with read it; a real outlier is only a warning, so
        one from months ago never blocks. A corrected close re-opens the sessions it
        touches (see ``Store.upsert_prices``), so the pair is then evaluated as if the bad
        tick had never been.
        """
        span = 2 * self.analysis.headline_window
        cutoff = sessions[-span].date() if len(sessions) >= span else None
        blocking = []
        for issue in issues:
            if issue.symbol not in (pair.crypto, pair.equity) or not issue.kind.blocks_alerts:
                continue
            old = cutoff is not None and not any(day >= cutoff for day in issue.sessions)
            if issue.kind in (QualityKind.BAD_PRICE, QualityKind.SUSPECT) and old:
                continue  # an old broken price no longer reaches the alert window
            blocking.append(issue)
        return blocking


_KIND_ORDER = {kind: index for index, kind in enumerate(AlertKind)}


def _regime_as_of(scan: PairScan, day: date | None) -> str | None:
    """The pair's regime on ``day`` (the last session the engine has seen)."""
    if day is None:
        return None
    position = (
        int(pd.DatetimeIndex(list(scan.sessions)).searchsorted(pd.Timestamp(day), "right")) - 1
    )
    return scan.regime_at(position)


def _last_complete_session(returns: pd.DataFrame, pair: Pair, end: date | None) -> date | None:
    """The last session (up to ``end``) with both of the pair's returns.

    The engine never looks at a session twice, so it must not pass one whose prices are
    still to come: with daily-close crypto a run at the NYSE close precedes the crypto
    close of the same day. Trailing sessions without both returns wait for the next run;
    a gap followed by complete sessions is passed over as usual.
    """
    both = returns[[pair.crypto, pair.equity]].notna().all(axis=1)
    if end is not None:
        both = both[both.index <= pd.Timestamp(end)]
    complete = both.index[both.to_numpy()]
    return None if complete.empty else pd.Timestamp(complete[-1]).date()


def _before_blocked(
    returns: pd.DataFrame, pair: Pair, blocking: Sequence[QualityIssue], end: date | None
) -> date | None:
    """The last complete session a held-back first run may warm up on: before the bad data.

    Before the earliest session a blocking finding names (a stale session is one not in the
    data yet, so every complete session precedes it); with findings that name none (a failed
    fetch), before the last complete session, which the next good run then walks again.
    """
    last = _last_complete_session(returns, pair, end)
    if last is None:
        return None
    named = [day for issue in blocking for day in issue.sessions]
    limit = min(named) if named else last
    both = returns[[pair.crypto, pair.equity]].notna().all(axis=1)
    complete = [ts.date() for ts in both.index[both.to_numpy()] if ts.date() < limit]
    return complete[-1] if complete else None
