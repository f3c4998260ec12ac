"""The service object the adapters call: ``check_now()``, ``snapshot()``, ``subscribe()``...

It owns the daily job's core (refresh prices, evaluate, record alerts with their deliveries,
engine states and the snapshot in one transaction) and the read side the chat commands use.
Commands read what the last run stored; they never wait on an exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from bot.core.analytics import Analytics
from bot.core.clock import Clock
from bot.core.engine import PairState
from bot.core.evaluation import Evaluation, Evaluator
from bot.core.freshness import SymbolFreshness
from bot.core.market_data import MarketData, RefreshReport
from bot.core.message import Message
from bot.core.models import Alert, Pair, QualityIssue, QualityKind, SymbolStatus
from bot.core.snapshot import Snapshot
from bot.core.store import Store, StoredAlert
from bot.core.store.chats import Subscribers
from bot.core.store.meta import LastRun
from bot.core.store.outbox import Outbox

__all__ = ["CheckResult", "CorrService"]


@dataclass(frozen=True)
class CheckResult:
    """What one run of the daily job did."""

    refresh: RefreshReport
    recorded: Sequence[StoredAlert]  # alerts recorded for the first time by this run
    snapshot: Snapshot | None
    held_back: Mapping[Pair, Sequence[QualityIssue]]  # pairs not evaluated: bad data
    #: Per symbol after the refresh: sessions behind, holes still fetched, holes given up.
    freshness: Sequence[SymbolFreshness] = ()

    @property
    def frozen(self) -> tuple[SymbolFreshness, ...]:
        """Symbols whose feed stopped moving; tell admins once per ``notice_key``.

        The key names the symbol and its last price, so a feed that stays frozen is told
        once, and one that moves and freezes again is told again.
        """
        return tuple(f for f in self.freshness if f.frozen)

    @property
    def ok(self) -> bool:
        """Every symbol refreshed and every alerting pair was evaluated."""
        return self.refresh.ok and not self.held_back

    @property
    def stale(self) -> bool:
        """Whether data the job needs is not published yet (worth retrying soon)."""
        return any(
            issue.kind in (QualityKind.STALE, QualityKind.FETCH_FAILED)
            for issues in self.held_back.values()
            for issue in issues
        )

    def problems(self) -> list[str]:
        """One line per thing that went wrong, for logs and admins."""
        lines = [f"{symbol}: {error}" for symbol, error in self.refresh.errors.items()]
        for pair, issues in self.held_back.items():
            lines.extend(f"{pair} held back: {issue}" for issue in issues)
        lines.extend(line for symbol in self.freshness for line in symbol.problems())
        return lines


class CorrService:
    """The daily job and the read side of the bot, independent of any transport."""

    def __init__(
        self, store: Store, market: MarketData, evaluator: Evaluator, *, clock: Clock
    ) -> None:
        self._store = store
        self._market = market
        self._evaluator = evaluator
        self._clock = clock
        self._lock = asyncio.Lock()
        self._analytics: Analytics | None = None

    @property
    def store(self) -> Store:
        """Where everything is kept (the sender and the status report read it too)."""
        return self._store

    @property
    def subscribers(self) -> Subscribers:
        """The subscribed chats and their settings."""
        return self._store.subscribers

    @property
    def outbox(self) -> Outbox:
        """The messages waiting to be delivered, per chat."""
        return self._store.outbox

    @property
    def evaluator(self) -> Evaluator:
        """Universe, windows and alert rules as configured."""
        return self._evaluator

    # -- the daily job ---------------------------------------------------------------

    async def check_now(self) -> CheckResult:
        """Refresh, evaluate and record; concurrent calls run one after the other."""
        async with self._lock:
            started = self._clock()
            report = await self._market.refresh()
            evaluation, reopened = await asyncio.to_thread(self._evaluate)
            recorded = self._record(evaluation, reopened)
            self._analytics = evaluation.analytics
            result = CheckResult(
                report,
                recorded,
                evaluation.snapshot,
                evaluation.held_back,
                freshness=tuple(self._market.freshness()),
            )
            self._store.meta.record_run(
                LastRun(
                    started_at=started,
                    finished_at=self._clock(),
                    ok=result.ok,
                    alerts=len(recorded),
                    as_of=None if result.snapshot is None else result.snapshot.as_of,
                    problems=result.problems(),
                )
            )
            return result

    def _evaluate(self) -> tuple[Evaluation, dict[Pair, pd.Timestamp]]:
        """Evaluate from the stored states, re-opened where prices were revised or filled late.

        Returns the evaluation and the re-openings it took into account, which recording
        clears.
        """
        panel = self._market.panel()
        window = self._evaluator.analysis.headline_window
        states = {
            pair: PairState.from_json(text)
            for pair, text in self._store.alerts.engine_states(window).items()
        }
        reopened = self._store.alerts.reopenings(window)
        sessions = [ts.date() for ts in pd.DatetimeIndex(panel.prices.index)]
        for pair, instant in reopened.items():
            first = _session_of(instant, sessions)
            if pair in states and first is not None:
                states[pair] = states[pair].reopened(first, sessions)
        evaluation = self._evaluator.evaluate(
            panel.returns, states, mode="live", issues=panel.issues
        )
        return evaluation, reopened

    def _record(
        self, evaluation: Evaluation, reopened: Mapping[Pair, pd.Timestamp] | None = None
    ) -> list[StoredAlert]:
        snapshot = evaluation.snapshot
        digest = None
        if snapshot is not None:
            message = self._evaluator.wording.digest(snapshot)
            digest = (f"digest:{snapshot.as_of.isoformat()}", message.to_json())
        return self._store.record_check(
            [(alert, msg.to_json()) for alert, msg in evaluation.alerts],
            window=self._evaluator.analysis.headline_window,
            states={pair: state.to_json() for pair, state in evaluation.states.items()},
            snapshot=None if snapshot is None else snapshot.to_json(),
            now=self._clock(),
            digest=digest,
            reopened=reopened,
        )

    async def preview(self) -> tuple[RefreshReport, Evaluation, list[tuple[str, Message, int]]]:
        """What ``check_now`` would record and send, recording nothing (``--dry-run``).

        Prices are still refreshed into the cache (that sends nothing to anyone). Returns
        the new alerts' keys, messages and how many chats each would reach.
        """
        async with self._lock:
            report = await self._market.refresh()
            evaluation, _ = await asyncio.to_thread(self._evaluate)
        known = self._store.alerts.known(
            [alert.key for alert, _ in evaluation.alerts]
            + [alert.episode for alert, _ in evaluation.alerts if alert.episode]
        )
        fresh = [
            (alert.key, message, self._audience(alert, known))
            for alert, message in evaluation.alerts
            if alert.key not in known
        ]
        return report, evaluation, fresh

    def _audience(self, alert: Alert, recorded: set[str]) -> int:
        """The chats ``alert`` would reach.

        A follow-up of a recorded episode reaches only the chats that got its first alert;
        one whose first alert is new too, whoever that one reaches.
        """
        if alert.opens_episode or alert.episode not in recorded:
            return self.outbox.audience(alert.kind)
        return self.outbox.audience(alert.kind, follows=alert.episode)

    def notify(self, key: str, message: Message, chat_ids: Sequence[int]) -> bool:
        """Queue a notice (to admins) once per key; returns whether it was new."""
        if not chat_ids:
            return False
        return self.outbox.notice(key, message.to_json(), chat_ids, now=self._clock())

    # -- what the commands read --------------------------------------------------------

    def snapshot(self) -> Snapshot | None:
        """The snapshot stored by the last evaluation, if any."""
        return self._store.meta.snapshot()

    def recent_alerts(self, limit: int = 5) -> list[StoredAlert]:
        """The latest alerts, newest first."""
        return self._store.alerts.recent(limit)

    def last_run(self) -> LastRun | None:
        """The latest daily job, whatever its outcome."""
        return self._store.meta.last_run()

    def last_success(self) -> LastRun | None:
        """The latest daily job that went well."""
        return self._store.meta.last_success()

    async def analytics(self) -> Analytics:
        """The analytics of the last evaluation, recomputed from the store after a restart."""
        if self._analytics is None:
            self._analytics = await asyncio.to_thread(
                lambda: self._evaluator.analytics(self._market.panel().returns)
            )
        return self._analytics

    def data_status(self) -> list[SymbolStatus]:
        """Per symbol freshness, from the store (no network)."""
        return self._market.statuses(self._market.panel())

    def freshness(self) -> list[SymbolFreshness]:
        """Per symbol: sessions behind, holes still fetched, holes given up (no network).

        ``/status`` and health checks read it between runs; each item's ``problems()``
        are the lines to show, ``frozen`` / ``notice_key`` what to tell admins once.
        """
        return self._market.freshness()

    def now(self) -> datetime:
        """The service's clock, for adapters that stamp what they write."""
        return self._clock()

    async def close(self) -> None:
        """Close the market data sources (the store belongs to the caller)."""
        await self._market.close()


def _session_of(instant: pd.Timestamp, sessions: Sequence[date]) -> date | None:
    """The session a price instant stands for: the last one that began before it.

    An equity close (21:00 UTC) stands for its own date, a crypto daily close (the next
    00:00 UTC) for the session before that midnight; either way, the latest session whose
    date starts before the instant. Erring early only re-evaluates one session more.
    """
    day = pd.Timestamp(instant).tz_convert("UTC").tz_localize(None)
    earlier = [s for s in sessions if pd.Timestamp(s) < day]
    return earlier[-1] if earlier else (sessions[0] if sessions else None)
