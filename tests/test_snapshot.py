"""The snapshot of one session (bot.core.snapshot), built from generated analytics.

Its session (as_of, at), its readings and their changes, the Williams tests of which
equity leads and which crypto is ahead, the regimes, volatilities, the warnings of bad
data, and the JSON it is stored as.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bot.core.analytics import Analytics
from bot.core.models import Pair, QualityIssue, QualityKind
from bot.core.regimes import RegimeBands
from bot.core.snapshot import Comparison, PairReading, Snapshot, VolReading, build_snapshot
from bot.present.corr import snapshot_message
from tests.fakes.messages import BANDS, BTC_PSCT, CRYPTO, EQUITIES, HEADLINE, LABELS, WINDOWS
from tests.fakes.messages import analytics_of as _analytics
from tests.fakes.messages import led_returns as _returns
from tests.fakes.messages import snapshot_of as _snapshot


@pytest.fixture(scope="module")
def psct_leads() -> Analytics:
    """Generated returns where every crypto loads heavily on PSCT."""
    return _analytics(_returns("PSCT"))


@pytest.fixture(scope="module")
def qqq_leads() -> Analytics:
    """Generated returns where every crypto loads heavily on QQQ."""
    return _analytics(_returns("QQQ", seed=23))


def _corr(snapshot: Snapshot, pair: Pair, window: int) -> float:
    reading = snapshot.reading(pair, window)
    assert reading is not None
    return reading.corr


def _same_float(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def _same_record(
    a: PairReading | VolReading | Comparison, b: PairReading | VolReading | Comparison
) -> bool:
    """Field-by-field equality where NaN equals NaN (NaN != NaN defeats ``==``)."""
    for f in fields(a):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, float) and isinstance(y, float):
            if not _same_float(x, y):
                return False
        elif x != y or type(x) is not type(y):
            return False
    return True


# --------------------------------------------------------------------------- snapshots


def test_as_of_is_the_last_session_with_a_headline_correlation() -> None:
    """With equities blank for 8 sessions, as_of is the last session that has their returns."""
    returns = _returns("PSCT", blank_tail=8)
    analytics = _analytics(returns)
    snapshot = _snapshot(analytics)
    # Numbers never outlive the data: no correlation as of a session without both returns.
    assert snapshot.as_of == returns.index[-9].date()
    assert math.isnan(analytics.corr[("BTC", "PSCT", 90)].iloc[-1])
    headline = analytics.corr.xs(HEADLINE, axis=1, level=2)
    assert headline.iloc[-8:].isna().all().all()
    assert headline.iloc[-9].notna().all()


def test_one_blank_equity_does_not_move_as_of_back() -> None:
    """as_of needs a headline correlation for any pair, not for every pair."""
    returns = _returns("PSCT")
    returns.iloc[-8:, returns.columns.get_loc("IWM")] = np.nan
    analytics = _analytics(returns)
    snapshot = _snapshot(analytics)
    assert snapshot.as_of == returns.index[-1].date()
    assert math.isnan(_corr(snapshot, Pair("BTC", "IWM"), HEADLINE))
    assert not math.isnan(_corr(snapshot, BTC_PSCT, HEADLINE))
    leader = snapshot.leader("BTC")
    assert leader is not None
    assert (leader.first, leader.second) == ("PSCT", "QQQ")  # IWM has no correlation today


def test_as_of_defaults_to_the_latest_session(psct_leads: Analytics) -> None:
    """Without gaps the snapshot is of the last session of the history."""
    assert _snapshot(psct_leads).as_of == psct_leads.sessions[-1].date()


def test_readings_cover_every_pair_and_window_with_values_of_that_session(
    psct_leads: Analytics,
) -> None:
    """Each reading's corr, prev_corr and ewm_corr are the analytics on the snapshot session."""
    snapshot = _snapshot(psct_leads)
    when = pd.Timestamp(snapshot.as_of)
    assert len(snapshot.readings) == len(CRYPTO) * len(EQUITIES) * len(WINDOWS)
    assert snapshot.crypto == CRYPTO
    assert snapshot.equities == EQUITIES
    assert snapshot.windows == WINDOWS
    assert snapshot.headline_window == HEADLINE
    for crypto in CRYPTO:
        for equity in EQUITIES:
            for window in WINDOWS:
                reading = snapshot.reading(Pair(crypto, equity), window)
                assert reading is not None
                assert reading.pair == Pair(crypto, equity)
                assert reading.corr == psct_leads.corr.loc[when, (crypto, equity, window)]
                assert reading.prev_corr == psct_leads.prev_corr.loc[when, (crypto, equity, window)]
                assert reading.ewm_corr == psct_leads.ewm_corr.loc[when, (crypto, equity)]
    assert snapshot.reading(Pair("BTC", "SPY"), HEADLINE) is None
    assert snapshot.reading(BTC_PSCT, 60) is None


@pytest.mark.parametrize("position", [-1, 150, 85])
def test_changes_are_against_five_and_twenty_one_sessions_before(
    psct_leads: Analytics, position: int
) -> None:
    """change_week is corr minus corr 5 sessions before; change_month 21 sessions before."""
    sessions = psct_leads.sessions
    at = sessions[position]
    snapshot = _snapshot(psct_leads, at=at.date())
    week_ago = sessions[sessions.get_loc(at) - 5]
    month_ago = sessions[sessions.get_loc(at) - 21]
    for reading in snapshot.readings:
        key = (reading.crypto, reading.equity, reading.window)
        now = psct_leads.corr.loc[at, key]
        assert reading.change_week == pytest.approx(
            now - psct_leads.corr.loc[week_ago, key], abs=1e-15, nan_ok=True
        )
        assert reading.change_month == pytest.approx(
            now - psct_leads.corr.loc[month_ago, key], abs=1e-15, nan_ok=True
        )


def test_change_is_nan_when_the_earlier_correlation_did_not_exist(psct_leads: Analytics) -> None:
    """On session 103 the 90d value of session 82 does not exist (the first is 90): NaN change.

    Returns start on session 1, so the first full 90-session window ends on session 90.
    """
    assert psct_leads.corr[("BTC", "PSCT", 90)].first_valid_index() == psct_leads.sessions[90]
    snapshot = _snapshot(psct_leads, at=psct_leads.sessions[103].date())
    reading = snapshot.reading(BTC_PSCT, 90)
    assert reading is not None
    assert not math.isnan(reading.change_week)
    assert math.isnan(reading.change_month)


def test_leader_is_the_first_equity_when_it_leads(psct_leads: Analytics) -> None:
    """When crypto loads on PSCT, PSCT is ahead of the runner-up beyond noise (Williams)."""
    snapshot = _snapshot(psct_leads)
    for crypto in CRYPTO:
        headline = {e: _corr(snapshot, Pair(crypto, e), HEADLINE) for e in EQUITIES}
        assert headline["PSCT"] > max(headline["QQQ"], headline["IWM"]) + 0.2
        leader = snapshot.leader(crypto)
        assert leader is not None
        runner_up = max(("QQQ", "IWM"), key=headline.__getitem__)
        assert (leader.shared, leader.first, leader.second) == (crypto, "PSCT", runner_up)
        assert leader.significant
        assert leader.p < 0.05
    [fact] = [v for k, v in snapshot_message(snapshot).facts if k == "Leading equity"]
    assert fact.startswith("PSCT (US small-cap tech), BTC~PSCT 0.81 (")
    assert "PSCT ahead beyond noise (Williams' test p=0.030)" in fact


def test_leader_is_another_equity_when_the_first_does_not_lead(qqq_leads: Analytics) -> None:
    """When crypto loads on QQQ, QQQ is the leader, and no unknown crypto has one."""
    snapshot = _snapshot(qqq_leads)
    for crypto in CRYPTO:
        leader = snapshot.leader(crypto)
        assert leader is not None
        assert (leader.first, leader.second) == ("QQQ", "PSCT")
        assert leader.significant
    assert snapshot.leader("DOGE") is None
    facts = dict(snapshot_message(snapshot, "ETH").facts)
    assert facts["Leading equity"].startswith("QQQ (Nasdaq 100), ETH~QQQ 0.79 (")
    assert "QQQ ahead beyond noise" in facts["Leading equity"]


def test_tests_use_the_headline_window_and_its_sessions(psct_leads: Analytics) -> None:
    """Every comparison holds the headline window's correlations and the sessions they used."""
    snapshot = _snapshot(psct_leads)
    for test in (*snapshot.leaders, *snapshot.rivals):
        for equity, corr in ((test.first, test.corr_first), (test.second, test.corr_second)):
            reading = snapshot.reading(Pair(test.shared, equity), HEADLINE)
            assert reading is not None
            assert corr == reading.corr
            assert test.sessions == reading.sessions == HEADLINE
    for test in snapshot.versus:
        reading = snapshot.reading(Pair(test.first, test.shared), HEADLINE)
        assert reading is not None
        assert test.corr_first == reading.corr
        assert test.corr_first >= test.corr_second


def test_rivals_put_the_headline_equity_against_each_other(psct_leads: Analytics) -> None:
    """rival() finds PSCT against each other equity; against() BTC against each altcoin."""
    snapshot = _snapshot(psct_leads)
    assert len(snapshot.rivals) == len(CRYPTO) * (len(EQUITIES) - 1)
    for crypto in CRYPTO:
        for other in EQUITIES[1:]:
            rival = snapshot.rival(crypto, other)
            assert rival is not None
            assert {rival.first, rival.second} == {"PSCT", other}
            assert rival.shared == crypto
    assert snapshot.rival("BTC", "SPY") is None
    for equity in EQUITIES:
        against = snapshot.against(equity, "ETH")
        assert against is not None
        assert {against.first, against.second} == {"BTC", "ETH"}
    assert snapshot.against("PSCT", "DOGE") is None


def test_p_agrees_with_the_significance_verdict() -> None:
    """Just past the critical value p is under 0.05; just before it, above."""

    def comparison(t: float) -> Comparison:
        return Comparison("BTC", "PSCT", "QQQ", 0.6, 0.4, t, 2.0518, 30)

    assert comparison(2.06).significant
    assert comparison(2.06).p < 0.05
    assert not comparison(2.04).significant
    assert comparison(2.04).p > 0.05
    assert math.isnan(Comparison("BTC", "PSCT", "QQQ", 0.6, 0.4, 2.5, 2.05).p)  # no sessions


def test_regimes_from_the_mapping_are_used_for_the_headline_window(
    psct_leads: Analytics,
) -> None:
    """A mapped regime is taken as given; other headline pairs get bands.plain; others None."""
    bands = RegimeBands(edges=(-0.3, 0.1, 0.35))
    regimes = {BTC_PSCT: "inverse", Pair("ETH", "QQQ"): None}
    snapshot = _snapshot(psct_leads, bands=bands, regimes=regimes)
    for reading in snapshot.readings:
        if reading.window != HEADLINE:
            assert reading.regime is None
        elif reading.pair == BTC_PSCT:
            assert reading.regime == "inverse"  # not what its correlation would say
            assert bands.plain(reading.corr) != "inverse"
        else:
            assert reading.regime == bands.plain(reading.corr)
    plain = {r.regime for r in snapshot.readings if r.window == HEADLINE and r.pair != BTC_PSCT}
    assert len(plain) > 1  # the custom bands tell the pairs apart


def test_volatility_readings_are_now_and_the_median_of_the_past_year(
    psct_leads: Analytics,
) -> None:
    """Each leg's vol is the analytics value; median_year its median over 252 sessions."""
    snapshot = _snapshot(psct_leads)
    assert len(snapshot.vols) == (len(CRYPTO) + len(EQUITIES)) * len(WINDOWS)
    for symbol in (*CRYPTO, *EQUITIES):
        for window in WINDOWS:
            reading = snapshot.vol(symbol, window)
            assert reading is not None
            series = psct_leads.volatility(symbol, window).to_numpy()
            assert reading.vol == series[-1]
            assert reading.median_year == pytest.approx(np.nanmedian(series[-252:]), rel=1e-15)
    assert snapshot.vol("DOGE", 30) is None


def test_at_picks_an_earlier_session(psct_leads: Analytics) -> None:
    """``at`` moves the snapshot back; a weekend resolves to the Friday before."""
    sessions = psct_leads.sessions
    earlier = _snapshot(psct_leads, at=sessions[200].date())
    assert earlier.as_of == sessions[200].date()
    reading = earlier.reading(BTC_PSCT, HEADLINE)
    assert reading is not None
    assert reading.corr == psct_leads.corr[("BTC", "PSCT", HEADLINE)].iloc[200]
    vol = earlier.vol("BTC", HEADLINE)
    assert vol is not None
    assert vol.vol == psct_leads.volatility("BTC", HEADLINE).iloc[200]

    friday = sessions[sessions.day_of_week == 4][10]
    saturday = (friday + pd.Timedelta(days=1)).date()
    assert _snapshot(psct_leads, at=saturday).as_of == friday.date()


def test_at_before_any_headline_correlation_gives_no_snapshot(psct_leads: Analytics) -> None:
    """Before the first 30-session correlation there is nothing to show."""
    snapshot = build_snapshot(
        psct_leads,
        headline_window=HEADLINE,
        bands=BANDS,
        regimes={},
        labels=LABELS,
        at=psct_leads.sessions[10].date(),
    )
    assert snapshot is None


def test_only_blocking_quality_issues_become_warnings(psct_leads: Analytics) -> None:
    """Stale data is a warning on the snapshot; an outlier is not."""
    issues = [
        QualityIssue("PSCT", QualityKind.STALE, "last close 2024-06-10"),
        QualityIssue("BTC", QualityKind.OUTLIER, "a 30% day"),
    ]
    snapshot = _snapshot(psct_leads, issues=issues)
    assert snapshot.warnings == ("PSCT: stale: last close 2024-06-10",)


def test_holes_inside_the_headline_window_are_a_warning_with_their_dates(
    psct_leads: Analytics,
) -> None:
    """Two PSCT sessions without a price in the last 30: said on /corr; an older one is not."""
    sessions = psct_leads.sessions
    inside = (sessions[-5].date(), sessions[-3].date())
    issues = [
        QualityIssue("PSCT", QualityKind.MISSING, "no price", inside),
        QualityIssue("BTC", QualityKind.MISSING, "no price", (sessions[-60].date(),)),
    ]
    snapshot = _snapshot(psct_leads, issues=issues)
    days = ", ".join(d.isoformat() for d in inside)
    line = (
        f"PSCT: 2 sessions of the last {HEADLINE} without a price ({days}): "
        "the correlations use fewer sessions"
    )
    assert snapshot.warnings == (line,)
    assert line in snapshot_message(snapshot).notes


def test_json_round_trip_is_exact_including_nan(psct_leads: Analytics) -> None:
    """to_json/from_json gives back every field, NaN included, and JSON has no NaN token."""
    issues = [QualityIssue("PSCT", QualityKind.STALE, "late")]
    snapshot = _snapshot(
        psct_leads,
        at=psct_leads.sessions[40].date(),
        bands=RegimeBands(edges=(-0.3, 0.1, 0.35), hysteresis=0.02),
        regimes={BTC_PSCT: "linked"},
        issues=issues,
    )
    nan_fields = [r for r in snapshot.readings if math.isnan(r.corr) or math.isnan(r.change_month)]
    assert nan_fields  # the 90-session window is not yet computed on session 40
    assert any(math.isnan(v.vol) for v in snapshot.vols)

    text = snapshot.to_json()

    def no_constants(name: str) -> float:
        raise AssertionError(f"non-standard JSON constant {name}")

    json.loads(text, parse_constant=no_constants)
    back = Snapshot.from_json(text)
    assert back.as_of == snapshot.as_of
    assert isinstance(back.as_of, date)
    assert back.headline_window == snapshot.headline_window
    assert back.windows == snapshot.windows
    assert back.crypto == snapshot.crypto
    assert back.equities == snapshot.equities
    assert back.labels == snapshot.labels
    assert back.bands == snapshot.bands
    assert back.warnings == snapshot.warnings == ("PSCT: stale: late",)
    assert len(back.readings) == len(snapshot.readings)
    assert all(_same_record(a, b) for a, b in zip(back.readings, snapshot.readings, strict=True))
    assert len(back.vols) == len(snapshot.vols)
    assert all(_same_record(a, b) for a, b in zip(back.vols, snapshot.vols, strict=True))
    tests = (*snapshot.leaders, *snapshot.versus, *snapshot.rivals)
    assert snapshot.leaders
    assert snapshot.versus
    assert snapshot.rivals
    back_tests = (*back.leaders, *back.versus, *back.rivals)
    assert len(back_tests) == len(tests)
    assert all(_same_record(a, b) for a, b in zip(back_tests, tests, strict=True))
    assert back.to_json() == text


def test_a_snapshot_of_an_earlier_version_reads_without_its_tests(psct_leads: Analytics) -> None:
    """JSON without leaders, versus, rivals or sessions reads back with none of them."""
    data = json.loads(_snapshot(psct_leads).to_json())
    for key in ("leaders", "versus", "rivals", "bands"):
        del data[key]
    for reading in data["readings"]:
        del reading["sessions"]
    back = Snapshot.from_json(json.dumps(data))
    assert back.leaders == back.versus == back.rivals == ()
    assert back.bands == RegimeBands()
    assert back.leader("BTC") is None
    reading = back.reading(BTC_PSCT, HEADLINE)
    assert reading is not None
    assert math.isnan(reading.interval[0])
    assert reading.missing == 0


def test_vol_reading_elevated_property() -> None:
    """VolReading.elevated is vol strictly above 1.5 times the median of the year."""
    assert VolReading("BTC", 30, 0.91, 0.6).elevated
    assert not VolReading("BTC", 30, 0.89, 0.6).elevated
    assert not VolReading("BTC", 30, 0.5, math.nan).elevated
