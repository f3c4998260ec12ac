"""Incremental refresh of the price cache and the aligned panel built from it.

A refresh asks each source only for the instants the store lacks, plus a small overlap of
recent sessions to pick up revised closes. An instant a source answered without is asked for
again on every refresh while it is among the last ``late_retry_sessions`` sessions: a source
that stops and then delivers an outage late must not leave holes behind. Only older ones
(days before a coin was listed, an outage never backfilled) are remembered as gaps, not
asked for again, and remain visible to the quality checks and the data status. A source
failure is recorded per symbol and never erases what was cached before.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pandas as pd
from tqdm import tqdm

from bot.core.calendar import TradingCalendar
from bot.core.clock import Clock
from bot.core.errors import DataError
from bot.core.freshness import SymbolFreshness, check_freshness, retry_sessions
from bot.core.models import Asset, QualityIssue, QualityKind, SymbolStatus
from bot.core.panel import Panel, build_panel
from bot.core.sampling import Sampling, target_instants
from bot.core.sources.base import FetchRequest, Observations, PriceSource
from bot.core.store.prices import Prices

__all__ = ["MarketData", "RefreshReport", "RefreshSettings"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RefreshSettings:
    """The knobs of ``data.*`` the refresh needs."""

    history_sessions: int = 1000
    overlap_sessions: int = 3
    late_retry_sessions: int = 20
    stale_after: timedelta = timedelta(minutes=90)
    outlier_zscore: float = 10.0
    crypto_sampling: Sampling = "equity_close"

    @property
    def retry_sessions(self) -> int:
        """Recent sessions whose missing prices are asked for again on every refresh."""
        return retry_sessions(self.overlap_sessions, self.late_retry_sessions)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What one refresh did, per symbol."""

    written: Mapping[str, int] = field(default_factory=dict)
    errors: Mapping[str, DataError] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every symbol refreshed without error."""
        return not self.errors


class MarketData:
    """Keeps the store's prices current and turns them into a :class:`Panel`."""

    def __init__(
        self,
        prices: Prices,
        *,
        crypto: Sequence[Asset],
        equities: Sequence[Asset],
        crypto_source: PriceSource,
        equity_source: PriceSource,
        calendar: TradingCalendar,
        clock: Clock,
        settings: RefreshSettings,
        show_progress: bool | None = None,
    ) -> None:
        self._prices = prices
        self._crypto = tuple(crypto)
        self._equities = tuple(equities)
        self._sources = {a.symbol: crypto_source for a in crypto} | {
            a.symbol: equity_source for a in equities
        }
        self._calendar = calendar
        self._clock = clock
        self._settings = settings
        self._show_progress = show_progress
        sampling = settings.crypto_sampling if crypto_source.intraday else "daily_close"
        if sampling != settings.crypto_sampling:
            log.warning(
                "data.crypto_sampling is %s but the %s source has daily bars only: crypto is "
                "sampled at the daily close (00:00 UTC), a few hours after the equity close",
                settings.crypto_sampling,
                crypto_source.name,
            )
        self.sampling: dict[str, Sampling] = {a.symbol: sampling for a in crypto} | {
            a.symbol: "equity_close" for a in equities
        }

    @property
    def assets(self) -> tuple[Asset, ...]:
        """Every asset, crypto first."""
        return self._crypto + self._equities

    def window(self) -> pd.Series:
        """Close instants of the sessions kept: the last ``history_sessions`` that closed."""
        return self._calendar.recent_closes(self._settings.history_sessions, self._clock())

    async def refresh(self) -> RefreshReport:
        """Fetch what the store lacks for every asset; one symbol's failure spares others."""
        now = self._clock()
        closes = self.window()
        requests: dict[PriceSource, list[FetchRequest]] = {}
        for asset in self.assets:
            request = self._request_for(asset, closes)
            if request is not None:
                requests.setdefault(self._sources[asset.symbol], []).append(request)
        written: dict[str, int] = {}
        errors: dict[str, DataError] = {}
        total = sum(len(batch) for batch in requests.values())
        with tqdm(
            total=total,
            desc="fetching",
            unit="symbol",
            disable=not self._progress_enabled(total),
            file=sys.stderr,
        ) as bar:
            for source, batch in requests.items():
                chunks = [batch] if source.batch_requests else [[r] for r in batch]
                for chunk in chunks:
                    results = await source.fetch(chunk)
                    for request in chunk:
                        symbol = request.asset.symbol
                        result = results.get(symbol) or DataError(
                            f"{symbol}: source returned nothing"
                        )
                        if isinstance(result, DataError):
                            errors[symbol] = result
                            log.warning("refresh of %s failed: %s", symbol, result)
                            self._prices.record_fetch(
                                symbol, source=source.name, attempted_at=now, error=str(result)
                            )
                        else:
                            written[symbol] = self._save(request, result, closes, now)
                    bar.update(len(chunk))
        for asset in self.assets:
            self._prices.prune_before(asset.symbol, closes.iloc[0] - pd.Timedelta(days=1))
        return RefreshReport(written=written, errors=errors)

    def _request_for(self, asset: Asset, closes: pd.Series) -> FetchRequest | None:
        """The instants to ask for: absent ones not given up on, plus the overlap.

        Inside the retry horizon even a recorded gap is asked for again (a store written
        before the horizon existed gave up after the overlap).
        """
        targets = pd.DatetimeIndex(target_instants(asset, closes, self.sampling[asset.symbol]))
        cached = self._prices.load(asset.symbol, since=targets[0]).index
        known_gaps = self._prices.known_gaps(asset.symbol)
        retrying = np.arange(len(targets)) >= len(targets) - self._settings.retry_sessions
        wanted = ~targets.isin(cached) & (~targets.isin(known_gaps) | retrying)
        overlap = self._settings.overlap_sessions
        if overlap:
            wanted[-overlap:] = True
        if not wanted.any():
            return None
        return FetchRequest(asset, targets[wanted])

    def _save(
        self, request: FetchRequest, found: Observations, closes: pd.Series, now: object
    ) -> int:
        symbol = request.asset.symbol
        recent = closes.iloc[-max(self._settings.retry_sessions, 1) :]
        recent_instants = target_instants(request.asset, recent, self.sampling[symbol])
        count = self._prices.upsert(
            symbol,
            found.closes,
            source=found.origin,
            fetched_at=now,  # type: ignore[arg-type]
            reopen_from=recent_instants.iloc[0],
        )
        absent = request.targets[
            ~request.targets.isin(found.closes.index) & ~request.targets.isin(recent_instants)
        ]
        if len(absent):
            self._prices.record_gaps(symbol, absent, checked_at=now)  # type: ignore[arg-type]
        self._prices.record_fetch(symbol, source=found.origin, attempted_at=now, error=None)  # type: ignore[arg-type]
        return count

    def _progress_enabled(self, total: int) -> bool:
        if self._show_progress is not None:
            return self._show_progress and total > 0
        return total > 0 and sys.stderr.isatty()

    def panel(self) -> Panel:
        """The aligned panel over the kept window, with quality findings."""
        closes = self.window()
        now = self._clock()
        since = closes.iloc[0] - pd.Timedelta(days=1)
        cached = {a.symbol: self._prices.load(a.symbol, since=since) for a in self.assets}
        failures = [
            QualityIssue(symbol, QualityKind.FETCH_FAILED, f"last refresh failed: {record.error}")
            for symbol, record in self._prices.fetch_records(
                [a.symbol for a in self.assets]
            ).items()
            if record.error
        ]
        return build_panel(
            cached,
            self.assets,
            closes,
            self.sampling,
            now=now,
            stale_after=self._settings.stale_after,
            outlier_zscore=self._settings.outlier_zscore,
            extra_issues=failures,
        )

    def freshness(self) -> list[SymbolFreshness]:
        """Per symbol, from the store: sessions behind, holes still fetched, holes given up."""
        return check_freshness(
            self._prices,
            self._calendar,
            self._clock(),
            assets=self.assets,
            history_sessions=self._settings.history_sessions,
            retry=self._settings.retry_sessions,
            stale_after=self._settings.stale_after,
            sampling=self.sampling,
        )

    def statuses(self, panel: Panel) -> list[SymbolStatus]:
        """Per symbol: where its prices came from, their span, staleness and findings."""
        records = self._prices.fetch_records()
        fresh = {f.symbol: f for f in self.freshness()}
        statuses = []
        for asset in self.assets:
            holes = fresh.get(asset.symbol)
            column = panel.prices[asset.symbol].dropna()
            first = column.index[0].date() if not column.empty else None
            last = column.index[-1].date() if not column.empty else None
            expected = panel.expected_last.get(asset.symbol)
            stale = 0
            if expected is not None:
                stale = (
                    self._calendar.sessions_after(last, expected)
                    if last is not None
                    else len(panel.prices)
                )
            record = records.get(asset.symbol)
            origins = self._prices.sources(asset.symbol)
            statuses.append(
                SymbolStatus(
                    asset=asset,
                    source=", ".join(origins) if origins else (record.source if record else "-"),
                    first_session=first,
                    last_session=last,
                    rows=len(column),
                    expected_last_session=expected,
                    fetched_at=None
                    if record is None or record.succeeded_at is None
                    else record.succeeded_at.to_pydatetime(),
                    stale_sessions=max(stale, 0),
                    issues=tuple(panel.issues_for([asset.symbol])),
                    error=None if record is None else record.error,
                    pending=() if holes is None else holes.pending,
                    gaps=() if holes is None else holes.gaps,
                )
            )
        return statuses

    async def close(self) -> None:
        """Close every distinct source once."""
        for source in {id(s): s for s in self._sources.values()}.values():
            await source.close()
