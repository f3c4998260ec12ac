"""Freshness from the store alone: frozen feeds, holes still fetched, holes given up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot.core.calendar import nyse
from bot.core.freshness import SymbolFreshness, check_freshness
from bot.core.models import Asset, AssetKind
from bot.core.store import Store

BTC = Asset("BTC", AssetKind.CRYPTO)
PSCT = Asset("PSCT", AssetKind.EQUITY)
#: Tuesday 2024-12-03, 23:00 UTC: that session closed two hours ago.
NOW = datetime(2024, 12, 3, 23, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "s.db")


def _closes(count: int = 100) -> pd.Series:
    return nyse().recent_closes(count, NOW)


def _write(store: Store, symbol: str, instants: pd.Series | pd.DatetimeIndex) -> None:
    index = pd.DatetimeIndex(instants)
    store.prices.upsert(symbol, pd.Series(100.0, index=index), source="test", fetched_at=NOW)


def _check(store: Store, assets: list[Asset]) -> list[SymbolFreshness]:
    return check_freshness(
        store.prices,
        nyse(),
        NOW,
        assets=assets,
        history_sessions=100,
        retry=20,
        stale_after=timedelta(minutes=90),
        sampling={"BTC": "equity_close", "PSCT": "equity_close"},
    )


def _problems(store: Store, now: datetime = NOW) -> list[str]:
    """The lines /status and health show, for BTC and PSCT sampled at the equity close."""
    report = check_freshness(
        store.prices,
        nyse(),
        now,
        assets=[BTC, PSCT],
        history_sessions=100,
        retry=20,  # the larger of the overlap (3) and the late-retry horizon (20)
        stale_after=timedelta(minutes=90),
        sampling={"BTC": "equity_close", "PSCT": "equity_close"},
    )
    return [line for symbol in report for line in symbol.problems()]


def test_a_complete_store_has_no_problem(store: Store) -> None:
    """Every due session priced: nothing to say."""
    for symbol in ("BTC", "PSCT"):
        _write(store, symbol, _closes())
    assert _problems(store) == []


def test_a_feed_that_stopped_is_frozen_and_says_how_far_behind(store: Store) -> None:
    """Seven sessions without a new BTC price: one line with the last date and the count."""
    closes = _closes()
    _write(store, "BTC", closes.iloc[:-7])
    _write(store, "PSCT", closes)
    last = closes.index[-8].date().isoformat()
    assert _problems(store) == [f"BTC: no new price since {last}, 7 sessions behind"]
    [btc] = _check(store, [BTC])
    assert btc.frozen
    assert btc.notice_key == f"frozen:BTC:{last}"


def test_one_session_late_is_behind_but_not_frozen(store: Store) -> None:
    """The latest session not published yet is the ordinary retry case, not a frozen feed."""
    closes = _closes()
    _write(store, "BTC", closes.iloc[:-1])
    _write(store, "PSCT", closes)
    [btc, _] = _check(store, [BTC, PSCT])
    assert (btc.behind, btc.frozen) == (1, False)


def test_a_session_not_due_yet_is_not_behind(store: Store) -> None:
    """Within stale_after of the close the latest session is not expected yet."""
    closes = _closes()
    _write(store, "BTC", closes.iloc[:-1])
    _write(store, "PSCT", closes.iloc[:-1])
    just_after_close = closes.iloc[-1].to_pydatetime() + timedelta(minutes=30)
    assert _problems(store, just_after_close) == []


def test_holes_still_fetched_are_listed_by_date(store: Store) -> None:
    """Three interior holes inside the retry horizon: one line, being fetched again."""
    closes = _closes()
    holes = [-12, -11, -5]
    _write(store, "BTC", closes)
    _write(store, "PSCT", closes.drop(closes.index[holes]))
    days = ", ".join(closes.index[h].date().isoformat() for h in holes)
    assert _problems(store) == [f"PSCT: 3 sessions still missing (being fetched again): {days}"]


def test_a_hole_past_the_horizon_is_a_known_gap_not_a_problem(store: Store) -> None:
    """A hole 30 sessions back is no longer fetched: shown as a gap, not raised again."""
    closes = _closes()
    _write(store, "BTC", closes)
    _write(store, "PSCT", closes.drop(closes.index[-30]))
    assert _problems(store) == []
    [_, psct] = _check(store, [BTC, PSCT])
    assert psct.gaps == (closes.index[-30].date(),)
    assert psct.pending == ()


def test_sessions_before_the_first_price_are_neither_holes_nor_gaps(store: Store) -> None:
    """A coin listed ten sessions ago has no holes before its listing."""
    closes = _closes()
    _write(store, "BTC", closes.iloc[-10:])
    _write(store, "PSCT", closes)
    assert _problems(store) == []
