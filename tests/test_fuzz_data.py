"""Property: late, missing, outlying and revised prices lose nothing and alert on nothing bad.

Hypothesis draws, for a week of daily runs of the daily job (``CorrService.check_now``) over
a market that couples during the week, what the source gets wrong each day: sessions it
withholds (late or missing data: not published yet, so never withdrawn once out), a x30
tick on the latest close, a revised close. Whatever
the pattern, once the source has everything the store holds exactly the source's prices,
and no alert is ever recorded by a run that saw a blocking finding (a suspect tick) for
one of the pair's legs, nor for a session whose price that run had wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import ClassVar

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.compose import build_evaluator, refresh_settings
from bot.config import Config
from bot.core.calendar import nyse
from bot.core.errors import DataError
from bot.core.market_data import MarketData
from bot.core.service import CorrService
from bot.core.sources.base import FetchRequest, FetchResults, Observations, PriceSource
from bot.core.store import Store
from tests.fakes.market import StepSource

#: Tuesday 2024-06-04 23:00 UTC; the market couples on the week's second session.
START = datetime(2024, 6, 4, 23, tzinfo=UTC)
DAYS = 4
SYMBOLS = ("BTC", "ETH", "PSCT", "IWM", "QQQ")


@dataclass
class Faults:
    """What the source gets wrong on one day (instants by session offset from the latest)."""

    withheld: dict[str, set[int]] = field(default_factory=dict)  # 0 = the latest session
    ticked: set[str] = field(default_factory=set)  # x30 on the latest close
    revised: dict[str, int] = field(default_factory=dict)  # a close 1% off, the day before


class Faulty(PriceSource):
    """The step market, with the faults of the current day applied to what it answers."""

    name: ClassVar[str] = "faulty"
    intraday: ClassVar[bool] = True

    def __init__(self, truth: StepSource) -> None:
        self.truth = truth
        self.today = Faults()
        self.latest: list[pd.Timestamp] = []  # session close instants up to today, newest last
        self.wrong: dict[str, set[pd.Timestamp]] = {}  # instants answered wrong today
        self.published: set[tuple[str, pd.Timestamp]] = set()  # once out, never withdrawn

    async def fetch(self, requests: Sequence[FetchRequest]) -> FetchResults:
        answers = await self.truth.fetch(requests)
        results: dict[str, Observations | DataError] = {}
        for symbol, found in answers.items():
            if not isinstance(found, Observations):
                results[symbol] = found
                continue
            closes = found.closes.copy()
            withheld = {
                self.latest[-1 - k]
                for k in self.today.withheld.get(symbol, set())
                if (symbol, self.latest[-1 - k]) not in self.published
            }
            closes = closes[~closes.index.isin(list(withheld))]
            self.published.update((symbol, ts) for ts in closes.index)
            if symbol in self.today.ticked and self.latest[-1] in closes.index:
                closes[self.latest[-1]] *= 30.0
                self.wrong.setdefault(symbol, set()).add(self.latest[-1])
            offset = self.today.revised.get(symbol)
            if offset is not None and self.latest[-1 - offset] in closes.index:
                closes[self.latest[-1 - offset]] *= 1.01
                self.wrong.setdefault(symbol, set()).add(self.latest[-1 - offset])
            results[symbol] = Observations(symbol, closes, found.origin)
        return results


def _faults() -> st.SearchStrategy[Faults]:
    symbol = st.sampled_from(SYMBOLS)
    return st.builds(
        Faults,
        withheld=st.dictionaries(symbol, st.sets(st.integers(0, 4), max_size=3), max_size=2),
        ticked=st.sets(symbol, max_size=2),
        revised=st.dictionaries(symbol, st.just(1), max_size=1),
    )


def _config(folder: Path) -> Config:
    return Config.model_validate(
        {
            "data": {
                "crypto_source": "synthetic",
                "equity_source": "synthetic",
                "history_sessions": 400,
            },
            "storage": {"path": folder / "s.db"},
        }
    )


async def _run(folder: Path, days: list[Faults]) -> None:
    config = _config(folder)
    calendar = nyse()
    universe = config.universe
    truth = StepSource(
        universe.crypto_assets(), universe.equity_assets(), calendar, change=date(2024, 6, 6)
    )
    source = Faulty(truth)
    now = START
    with Store.open(config.storage.path) as store:
        market = MarketData(
            store.prices,
            crypto=universe.crypto_assets(),
            equities=universe.equity_assets(),
            crypto_source=source,
            equity_source=source,
            calendar=calendar,
            clock=lambda: now,
            settings=refresh_settings(config),
            show_progress=False,
        )
        service = CorrService(store, market, build_evaluator(config), clock=lambda: now)
        closes = calendar.closes(date(2024, 6, 4))
        for day, faults in enumerate([*days, Faults(), Faults(), Faults()]):
            now = closes.iloc[day].to_pydatetime() + timedelta(hours=2)
            source.latest = list(pd.DatetimeIndex(calendar.recent_closes(10, now).to_numpy()))
            source.today, source.wrong = faults, {}
            result = await service.check_now()
            for stored in result.recorded:
                pair = stored.alert.pair
                assert pair not in result.held_back, stored.alert.key
                for leg in (pair.crypto, pair.equity):
                    wrong = {ts.date() for ts in source.wrong.get(leg, set())}
                    assert not (stored.alert.session in wrong and leg in faults.ticked), (
                        f"{stored.alert.key} recorded from a x30 tick on {leg}"
                    )
        window = market.window()
        for asset in market.assets:
            stored_prices = store.prices.load(asset.symbol, since=window.iloc[0])
            expected = truth.prices[asset.symbol]
            expected = expected[
                (expected.index >= window.iloc[0]) & (expected.index <= window.iloc[-1])
            ]
            assert list(stored_prices.index) == list(expected.index), asset.symbol
            np.testing.assert_allclose(stored_prices.to_numpy(), expected.to_numpy(), rtol=1e-12)


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(days=st.lists(_faults(), min_size=DAYS, max_size=DAYS))
async def test_any_late_missing_ticked_or_revised_prices_heal_and_alert_on_nothing_bad(
    days: list[Faults],
) -> None:
    """Three clean days after the faults: the store equals the source; no alert from a tick."""
    with TemporaryDirectory() as folder:
        await _run(Path(folder), days)
