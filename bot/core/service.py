"""The service object the adapters call: ``check_now()``, ``snapshot()``, ``recent_alerts()``.

It owns the daily job's core: refresh prices, evaluate, and record the alerts, the engine
states and the snapshot in one transaction. Chat commands read what it stored; they never
wait on an exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.core.clock import Clock
from bot.core.engine import PairState
from bot.core.evaluation import Evaluation, Evaluator
from bot.core.market_data import MarketData, RefreshReport
from bot.core.models import Pair, QualityIssue
from bot.core.snapshot import Snapshot
from bot.core.store import Store, StoredAlert

__all__ = ["CheckResult", "CorrService"]


@dataclass(frozen=True)
class CheckResult:
    """What one run of the daily job did."""

    refresh: RefreshReport
    recorded: Sequence[StoredAlert]  # alerts recorded for the first time by this run
    snapshot: Snapshot | None
    held_back: Mapping[Pair, Sequence[QualityIssue]]  # pairs not evaluated: bad data

    @property
    def ok(self) -> bool:
        """Every symbol refreshed and every alerting pair was evaluated."""
        return self.refresh.ok and not self.held_back


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

    async def check_now(self) -> CheckResult:
        """Refresh, evaluate and record; concurrent calls run one after the other."""
        async with self._lock:
            report = await self._market.refresh()
            evaluation = await asyncio.to_thread(self._evaluate)
            recorded = self._record(evaluation)
            return CheckResult(report, recorded, evaluation.snapshot, evaluation.held_back)

    def _evaluate(self) -> Evaluation:
        panel = self._market.panel()
        window = self._evaluator.analysis.headline_window
        states = {
            pair: PairState.from_json(text)
            for pair, text in self._store.engine_states(window).items()
        }
        return self._evaluator.evaluate(panel.returns, states, mode="live", issues=panel.issues)

    def _record(self, evaluation: Evaluation) -> list[StoredAlert]:
        return self._store.record_check(
            evaluation.alerts,
            window=self._evaluator.analysis.headline_window,
            states={pair: state.to_json() for pair, state in evaluation.states.items()},
            snapshot=None if evaluation.snapshot is None else evaluation.snapshot.to_json(),
            now=self._clock(),
        )

    def snapshot(self) -> Snapshot | None:
        """The snapshot stored by the last successful evaluation, if any."""
        text = self._store.get_meta("snapshot")
        return None if text is None else Snapshot.from_json(text)

    def recent_alerts(self, limit: int = 5) -> list[StoredAlert]:
        """The latest alerts, newest first."""
        return self._store.recent_alerts(limit)

    async def close(self) -> None:
        """Close the market data sources (the store belongs to the caller)."""
        await self._market.close()
