"""The aligned panel, checked against hand-worked cases on the NYSE calendar."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bot.core.calendar import nyse
from bot.core.models import Asset, AssetKind
from bot.core.panel import build_panel
from bot.core.sampling import target_instants
from tests.fakes.clock import INSTANTS

BTC = Asset("BTC", AssetKind.CRYPTO, ccxt="BTC/USD", yahoo="BTC-USD")
PSCT = Asset("PSCT", AssetKind.EQUITY)
STALE_AFTER = pd.Timedelta(minutes=90).to_pytimedelta()


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def _closes(first: str, last: str) -> pd.Series:
    return nyse().closes(date.fromisoformat(first), date.fromisoformat(last))


def test_holiday_is_not_a_session_and_early_close_is_at_13_new_york() -> None:
    """Independence Day has no row; the day before closes at 13:00 New York (17:00 UTC)."""
    closes = _closes("2024-07-02", "2024-07-08")
    assert [d.date().isoformat() for d in closes.index] == [
        "2024-07-02",
        "2024-07-03",
        "2024-07-05",
        "2024-07-08",
    ]
    assert closes.loc["2024-07-03"] == _utc("2024-07-03 17:00")


def test_black_friday_closes_early() -> None:
    """The Friday after Thanksgiving closes at 13:00 New York, 18:00 UTC in winter."""
    assert nyse().session_close(date(2024, 11, 29)) == _utc("2024-11-29 18:00")


def test_dst_switch_moves_the_close_in_utc() -> None:
    """16:00 New York is 20:00 UTC before the November switch and 21:00 UTC after."""
    closes = _closes("2024-11-01", "2024-11-04")
    assert closes.loc["2024-11-01"] == _utc("2024-11-01 20:00")
    assert closes.loc["2024-11-04"] == _utc("2024-11-04 21:00")


def test_crypto_equity_close_sampling_uses_the_session_close() -> None:
    """With equity_close sampling a crypto's instant is the session's close."""
    closes = _closes("2024-11-27", "2024-11-29")
    instants = target_instants(BTC, closes, "equity_close")
    assert list(instants) == [_utc("2024-11-27 21:00"), _utc("2024-11-29 18:00")]


def test_crypto_daily_close_sampling_uses_the_next_utc_midnight() -> None:
    """With daily_close the crypto price is the close of the session's UTC day."""
    closes = _closes("2024-11-29", "2024-11-29")
    assert list(target_instants(BTC, closes, "daily_close")) == [_utc("2024-11-30 00:00")]


def test_equities_ignore_the_crypto_sampling() -> None:
    """Equities are always priced at the session close."""
    closes = _closes("2024-11-29", "2024-11-29")
    assert list(target_instants(PSCT, closes, "daily_close")) == [_utc("2024-11-29 18:00")]


def _panel(btc: dict[str, float], psct: dict[str, float], first: str, last: str):  # type: ignore[no-untyped-def]
    closes = _closes(first, last)
    cached = {
        "BTC": pd.Series(btc.values(), index=pd.DatetimeIndex([_utc(t) for t in btc])),
        "PSCT": pd.Series(psct.values(), index=pd.DatetimeIndex([_utc(t) for t in psct])),
    }
    return build_panel(
        cached,
        [BTC, PSCT],
        closes,
        {"BTC": "equity_close", "PSCT": "equity_close"},
        now=closes.iloc[-1] + pd.Timedelta(hours=2),
        stale_after=pd.Timedelta(minutes=90),
        outlier_zscore=10.0,
    )


def test_weekend_crypto_move_lands_on_monday() -> None:
    """Monday's crypto return spans Friday close to Monday close, weekend included."""
    panel = _panel(
        {"2024-11-01 20:00": 100.0, "2024-11-02 20:00": 150.0, "2024-11-04 21:00": 120.0},
        {"2024-11-01 20:00": 10.0, "2024-11-04 21:00": 11.0},
        "2024-11-01",
        "2024-11-04",
    )
    monday = panel.returns.loc["2024-11-04"]
    assert monday["BTC"] == pytest.approx(math.log(120 / 100), abs=1e-12)
    assert monday["PSCT"] == pytest.approx(math.log(11 / 10), abs=1e-12)


def test_holiday_return_spans_the_holiday() -> None:
    """The session after a holiday compares with the session before it, early close and all."""
    panel = _panel(
        {"2024-07-03 17:00": 60_000.0, "2024-07-05 20:00": 57_000.0},
        {"2024-07-03 17:00": 40.0, "2024-07-05 20:00": 41.0},
        "2024-07-03",
        "2024-07-05",
    )
    assert list(panel.returns.index.date) == [date(2024, 7, 5)]
    assert panel.returns.loc["2024-07-05", "BTC"] == pytest.approx(math.log(57 / 60), abs=1e-12)


def test_equity_gap_is_not_forward_filled() -> None:
    """A missing equity close stays missing: its return and the next are NaN, not zero."""
    panel = _panel(
        {"2024-12-02 21:00": 1.0, "2024-12-03 21:00": 2.0, "2024-12-04 21:00": 3.0},
        {"2024-12-02 21:00": 10.0, "2024-12-04 21:00": 12.0},
        "2024-12-02",
        "2024-12-04",
    )
    assert np.isnan(panel.prices.loc["2024-12-03", "PSCT"])
    assert panel.returns["PSCT"].isna().all()
    assert [i.kind.value for i in panel.issues_for(["PSCT"])] == ["missing"]


def test_crypto_price_at_another_instant_is_not_used() -> None:
    """A crypto close at midnight does not stand in for the equity-close instant."""
    panel = _panel(
        {"2024-12-03 00:00": 1.0, "2024-12-03 21:00": 2.0},
        {"2024-12-03 21:00": 10.0},
        "2024-12-03",
        "2024-12-03",
    )
    assert panel.prices.loc["2024-12-03", "BTC"] == 2.0


#: Per instant of the clock matrix: the latest session whose price is due (90 min after its
#: instant) for an equity or equity-close crypto, and for a crypto sampled at UTC midnight.
EXPECTED_AT = {
    "weekday-2h-after-close": ("2026-12-01", "2026-11-30"),
    "1h-after-early-close": ("2026-11-25", "2026-11-25"),  # 13:00 close + 90 min not yet
    "saturday": ("2026-11-27", "2026-11-27"),
    "holiday": ("2026-11-25", "2026-11-25"),
    "dst-45min-after-close": ("2027-03-12", "2027-03-12"),
    "new-years-eve-night": ("2026-12-31", "2026-12-31"),
}


@pytest.mark.parametrize("instant", list(INSTANTS))
def test_the_session_due_is_found_at_every_instant_of_the_clock_matrix(instant: str) -> None:
    """Early closes, weekends, holidays, DST and the year's end: each sampling's due session."""
    now = INSTANTS[instant]
    closes = nyse().recent_closes(30, now + pd.Timedelta(days=5))
    sampling = {"BTC": "daily_close", "PSCT": "equity_close"}
    panel = build_panel(
        {}, [BTC, PSCT], closes, sampling, now=now, stale_after=STALE_AFTER, outlier_zscore=10.0
    )
    equity, daily_crypto = EXPECTED_AT[instant]
    assert panel.expected_last["PSCT"] == date.fromisoformat(equity)
    assert panel.expected_last["BTC"] == date.fromisoformat(daily_crypto)
