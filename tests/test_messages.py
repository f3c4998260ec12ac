"""Snapshots built from generated analytics, and the messages and text made from them."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.core.analytics import Analytics, compute_analytics
from bot.core.message import Message, Table
from bot.core.models import Alert, AlertKind, Pair, QualityIssue, QualityKind
from bot.core.regimes import RegimeBands
from bot.core.rules import shift as shift_rule
from bot.core.snapshot import (
    Comparison,
    PairReading,
    Snapshot,
    VolReading,
    build_snapshot,
)
from bot.core.stats import fisher_interval, volatility_adjusted
from bot.present.alerts import alert_message
from bot.present.context import comparison_text
from bot.present.corr import snapshot_message
from bot.present.numbers import (
    fmt_change,
    fmt_corr,
    fmt_interval,
    fmt_p,
    fmt_vol,
    fmt_with_interval,
    fmt_z,
)
from bot.present.plain import render_text
from bot.present.study import study_evidence

CRYPTO = ("BTC", "ETH")
EQUITIES = ("PSCT", "QQQ", "IWM")
WINDOWS = (30, 90)
HEADLINE = 30
SESSIONS = 320
BANDS = RegimeBands()
LABELS = {"PSCT": "US small-cap tech", "QQQ": "Nasdaq 100"}
BTC_PSCT = Pair("BTC", "PSCT")


# --------------------------------------------------------------------------- generated data


def _returns(leader: str, *, seed: int = 17, blank_tail: int = 0) -> pd.DataFrame:
    """Independent equities; every crypto loads heavily on ``leader`` and lightly on the rest.

    ``blank_tail`` sessions at the end have no equity returns (crypto still trades).
    """
    rng = np.random.default_rng(seed)
    index = pd.DatetimeIndex(pd.bdate_range("2023-01-02", periods=SESSIONS), name="session")
    equities = {e: rng.normal(0.0, 0.015, SESSIONS) for e in EQUITIES}
    data: dict[str, np.ndarray] = {}
    for crypto in CRYPTO:
        data[crypto] = sum(
            (1.0 if e == leader else 0.25) * series for e, series in equities.items()
        ) + rng.normal(0.0, 0.008, SESSIONS)
    data.update(equities)
    frame = pd.DataFrame(data, index=index)
    frame.iloc[0] = np.nan
    if blank_tail:
        frame.iloc[-blank_tail:, [frame.columns.get_loc(e) for e in EQUITIES]] = np.nan
    return frame


def _analytics(returns: pd.DataFrame) -> Analytics:
    return compute_analytics(returns, CRYPTO, EQUITIES, WINDOWS, halflife=20.0)


@pytest.fixture(scope="module")
def psct_leads() -> Analytics:
    return _analytics(_returns("PSCT"))


@pytest.fixture(scope="module")
def qqq_leads() -> Analytics:
    return _analytics(_returns("QQQ", seed=23))


def _snapshot(
    analytics: Analytics,
    *,
    bands: RegimeBands = BANDS,
    regimes: Mapping[Pair, str | None] | None = None,
    issues: Sequence[QualityIssue] = (),
    at: date | None = None,
) -> Snapshot:
    snapshot = build_snapshot(
        analytics,
        headline_window=HEADLINE,
        bands=bands,
        regimes=regimes or {},
        labels=LABELS,
        issues=issues,
        at=at,
    )
    assert snapshot is not None
    return snapshot


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


# --------------------------------------------------------------------------- number formats


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-0.2, "-0.20"), (0.5, "0.50"), (1.0, "1.00"), (0.125, "0.12"), (-0.987, "-0.99")],
)
def test_fmt_corr(value: float, expected: str) -> None:
    """Correlations show two decimals, a minus sign only when negative."""
    assert fmt_corr(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(0.1, "+0.10"), (-0.1, "-0.10"), (0.0, "+0.00"), (0.514, "+0.51")]
)
def test_fmt_change(value: float, expected: str) -> None:
    """Changes are always signed, two decimals."""
    assert fmt_change(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3.25, "+3.2"), (-3.25, "-3.2"), (3.35, "+3.4"), (2.0, "+2.0"), (-0.04, "+0.0")],
)
def test_fmt_z(value: float, expected: str) -> None:
    """A z-score is signed, one decimal; a tiny negative never reads as "-0.0"."""
    assert fmt_z(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(0.853, "85%"), (0.3, "30%"), (1.234, "123%"), (0.004, "0%")]
)
def test_fmt_vol(value: float, expected: str) -> None:
    """Volatility is a whole percentage."""
    assert fmt_vol(value) == expected


@pytest.mark.parametrize("formatter", [fmt_corr, fmt_change, fmt_z, fmt_vol])
def test_nan_formats_as_not_available(formatter: Callable[[float], str]) -> None:
    """Every formatter writes NaN as n/a."""
    assert formatter(math.nan) == "n/a"
    assert formatter(float("nan")) == "n/a"


# --------------------------------------------------------------------------- alert messages

SESSION = date(2024, 6, 14)
EPISODE = "spike:BTC~PSCT:30:2024-06-03"  # the key of the alert that opened the episode
CORRS = {  # (crypto, equity): (30d, 90d)
    ("BTC", "PSCT"): (0.72, 0.55),
    ("BTC", "QQQ"): (0.41, 0.38),
    ("BTC", "IWM"): (-0.05, math.nan),
    ("ETH", "PSCT"): (0.66, 0.49),
    ("ETH", "QQQ"): (0.30, 0.33),
    ("ETH", "IWM"): (0.12, 0.10),
}
USUAL = {  # 30-session volatility and its median of the year
    "BTC": (0.85, 0.60),
    "ETH": (0.95, 0.75),
    "PSCT": (0.30, 0.25),
    "QQQ": (0.22, 0.20),
    "IWM": (0.26, 0.21),
}
CRITICAL = 2.0518  # Student t, 27 degrees of freedom
LEADERS = (
    Comparison("BTC", "PSCT", "QQQ", 0.72, 0.41, 2.5, CRITICAL, 30),
    Comparison("ETH", "PSCT", "QQQ", 0.66, 0.30, 2.9, CRITICAL, 30),
)
VERSUS = (
    Comparison("PSCT", "BTC", "ETH", 0.72, 0.66, 0.6, CRITICAL, 30),
    Comparison("QQQ", "BTC", "ETH", 0.41, 0.30, 0.9, CRITICAL, 30),
    Comparison("IWM", "ETH", "BTC", 0.12, -0.05, 1.1, CRITICAL, 30),
)


def _context(
    vols: dict[str, tuple[float, float]] | None = None,
    labels: dict[str, str] | None = None,
    *,
    leaders: tuple[Comparison, ...] = LEADERS,
    versus: tuple[Comparison, ...] = VERSUS,
    sessions: dict[tuple[str, str, int], int] | None = None,
    corrs: dict[tuple[str, str], tuple[float, float]] | None = None,
) -> Snapshot:
    """A hand-made snapshot; overrides: ``vols`` (30d vol, median), ``corrs`` (30d, 90d)."""
    usual = USUAL | (vols or {})
    levels = CORRS | (corrs or {})
    readings = []
    for c in CRYPTO:
        for e in EQUITIES:
            for i, w in enumerate(WINDOWS):
                corr = levels[(c, e)][i]
                ratio = usual[e][0] / usual[e][1] if w == 30 else 1.0
                readings.append(
                    PairReading(
                        c,
                        e,
                        w,
                        corr,
                        0.2,
                        0.05,
                        -0.1,
                        0.5,
                        "linked" if w == 30 else None,
                        sessions=float((sessions or {}).get((c, e, w), w)),
                        rank_corr=corr - 0.04,
                        adjusted=volatility_adjusted(corr, ratio),
                        vol_ratio=ratio,
                    )
                )
    vol_readings = tuple(
        VolReading(s, w, usual[s][0] if w == 30 else 0.5, usual[s][1] if w == 30 else 0.5)
        for s in (*CRYPTO, *EQUITIES)
        for w in WINDOWS
    )
    return Snapshot(
        as_of=SESSION,
        headline_window=30,
        windows=WINDOWS,
        crypto=CRYPTO,
        equities=EQUITIES,
        readings=tuple(readings),
        vols=vol_readings,
        labels=LABELS if labels is None else labels,
        leaders=leaders,
        versus=versus,
    )


def _alert(kind: AlertKind, corr: float, prev: float, z: float, **kwargs: Any) -> Alert:
    """An alert with the intervals the engine gives: 30 sessions now, 250 the year before."""
    lower, upper = fisher_interval(corr, 30)
    prev_lower, prev_upper = fisher_interval(prev, 250)
    fields: dict[str, Any] = {
        "lower": lower,
        "upper": upper,
        "prev_lower": prev_lower,
        "prev_upper": prev_upper,
        "direction": "down" if kind is AlertKind.DECOUPLING else "up",
    }
    return Alert(kind, BTC_PSCT, 30, SESSION, corr, prev, z, **(fields | kwargs))


def _follow_up(alert: Alert) -> Alert:
    """``alert`` as a silent reply inside the episode opened on 2024-06-03."""
    return replace(alert, notify=False, episode=EPISODE)


SPIKE = _alert(AlertKind.SPIKE, 0.72, 0.21, 3.25, regime_from="coupled", regime_to="coupled")
DECOUPLING = _alert(
    AlertKind.DECOUPLING, 0.05, 0.48, -3.4, regime_from="linked", regime_to="linked"
)
REGIME = _follow_up(
    _alert(AlertKind.REGIME, 0.72, 0.45, 2.1, regime_from="linked", regime_to="coupled")
)
SETTLED = _follow_up(
    _alert(AlertKind.SETTLED, 0.30, 0.62, 0.4, regime_from="linked", regime_to="linked")
)
CATCH_UP = _alert(
    AlertKind.SPIKE,
    0.72,
    0.41,
    3.4,
    regime_from="coupled",
    regime_to="coupled",
    catch_up=True,
    since=date(2024, 6, 3),
)
EVERY_KIND = {
    "spike": SPIKE,
    "decoupling": DECOUPLING,
    "further rise": _follow_up(SPIKE),
    "regime": REGIME,
    "settled": SETTLED,
    "catch-up": CATCH_UP,
}


def _ci(corr: float, sessions: int = 30) -> str:
    return fmt_with_interval(corr, *fisher_interval(corr, sessions))


def _row(symbol: str, corr: float) -> tuple[str, str, str]:
    return (symbol, fmt_corr(corr), fmt_interval(*fisher_interval(corr, 30)))


EXPECTED_TABLES = (
    Table(
        "BTC against each equity",
        ("vs", "30d", "95%"),
        (_row("PSCT", 0.72), _row("QQQ", 0.41), _row("IWM", -0.05)),
        (1,),
    ),
    Table(
        "Each crypto against PSCT",
        ("crypto", "30d", "95%"),
        (_row("BTC", 0.72), _row("ETH", 0.66)),
        (1,),
    ),
)
VOL_LINE = "BTC 85% (usual 60%), PSCT 30% (usual 25%) annualized"
FOOTER = "Data as of the 2024-06-14 NYSE close."
LEADER = (
    "Leading equity",
    "PSCT (US small-cap tech), BTC~PSCT 0.72 (0.49 to 0.86) vs BTC~QQQ 0.41 (0.06 to 0.67): "
    "PSCT ahead beyond noise (Williams' test p=0.019)",
)
BTC_VS_ETH = (
    "BTC vs ETH",
    "BTC~PSCT 0.72 (0.49 to 0.86) vs ETH~PSCT 0.66 (0.39 to 0.82): "
    "statistically tied (Williams' test p=0.55)",
)


def test_spike_message() -> None:
    """A spike names the move, says why it matters, and gives every number with its interval."""
    message = alert_message(SPIKE, _context())
    adjusted = volatility_adjusted(0.72, 1.2)
    adjusted_ci = fmt_with_interval(
        adjusted, *(volatility_adjusted(v, 1.2) for v in fisher_interval(0.72, 30))
    )
    assert message == Message(
        title="BTC is moving with PSCT",
        lead=shift_rule.describe(AlertKind.SPIKE, "BTC", "PSCT (US small-cap tech)")[1],
        facts=(
            ("Correlation (30 sessions)", "0.72 (95%: 0.49 to 0.86)"),
            ("Compared with", "0.21 (95%: 0.09 to 0.33) over the year before"),
            ("Test", "z +3.2: co-movement above the year before's, beyond noise"),
            ("Regime", "coupled"),
            ("Rank (Spearman)", fmt_with_interval(0.68, *fisher_interval(0.68, 30, variance=1.06))),
            (
                "At usual volatility",
                f"{adjusted_ci}; PSCT is 1.2x as volatile as usual (Forbes and Rigobon)",
            ),
            ("Volatility", VOL_LINE),
            LEADER,
            BTC_VS_ETH,
        ),
        tables=EXPECTED_TABLES,
        footer=FOOTER,
        notes=(),
    )
    assert message.lead.startswith("BTC now moves with PSCT (US small-cap tech) more than")


def test_decoupling_message() -> None:
    """A decoupling has its own title and a test below the year before."""
    message = alert_message(DECOUPLING, _context())
    assert message.title == "BTC is breaking away from PSCT"
    assert message.lead.startswith("BTC now moves with PSCT (US small-cap tech) less than")
    facts = dict(message.facts)
    assert facts["Correlation (30 sessions)"] == _ci(0.05)
    assert facts["Compared with"] == f"{_ci(0.48, 250)} over the year before"
    assert facts["Test"] == "z -3.4: co-movement below the year before's, beyond noise"
    assert facts["Regime"] == (
        "linked (the correlation is already past the decoupled edge, below 0.2; not yet confirmed)"
    )
    assert "Episode" not in facts
    assert message.tables == EXPECTED_TABLES
    assert message.footer == FOOTER


def test_regime_not_yet_caught_up_with_a_rise_says_so() -> None:
    """A spike to 0.71 while the regime reads decoupled: past the coupled edge, unconfirmed."""
    alert = _alert(AlertKind.SPIKE, 0.71, 0.10, 3.5, regime_from="decoupled", regime_to="decoupled")
    facts = dict(alert_message(alert, _context()).facts)
    assert facts["Regime"] == (
        "decoupled (the correlation is already past the coupled edge, from 0.5; not yet confirmed)"
    )


def test_regime_past_a_middle_edge_names_its_lower_bound() -> None:
    """A correlation in the band just above the regime is "above" that band's lower edge."""
    alert = _alert(AlertKind.SPIKE, 0.35, -0.1, 3.1, regime_from="decoupled", regime_to="decoupled")
    facts = dict(alert_message(alert, None).facts)
    assert facts["Regime"] == (
        "decoupled (the correlation is already past the linked edge, above 0.2; not yet confirmed)"
    )


@pytest.mark.parametrize("corr", [0.72, 0.47])
def test_regime_in_line_with_the_correlation_has_no_note(corr: float) -> None:
    """In its band, or past an edge by less than the hysteresis, the regime stands alone."""
    alert = _alert(AlertKind.SPIKE, corr, 0.1, 3.2, regime_from="coupled", regime_to="coupled")
    assert dict(alert_message(alert, _context()).facts)["Regime"] == "coupled"


def test_regime_note_uses_the_snapshots_bands() -> None:
    """With edges of the configuration (coupled from 0.8), 0.72 is still linked: no note."""
    alert = _alert(AlertKind.SPIKE, 0.72, 0.1, 3.2, regime_from="linked", regime_to="linked")
    assert dict(alert_message(alert, _context()).facts)["Regime"].startswith("linked (")
    context = replace(_context(), bands=RegimeBands(edges=(-0.3, 0.3, 0.8)))
    assert dict(alert_message(alert, context).facts)["Regime"] == "linked"


def test_a_silent_follow_up_reads_as_one_and_compares_with_the_episode_start() -> None:
    """A band change inside an episode says it is a follow-up, dated from the episode's start."""
    message = alert_message(REGIME, _context())
    assert message.title == "Follow-up: BTC~PSCT now coupled (linked → coupled)"
    assert message.lead == (
        "BTC is trading as a tech proxy: shocks to PSCT (US small-cap tech) reach crypto."
    )
    facts = dict(message.facts)
    assert facts["Compared with"] == f"{_ci(0.45, 250)} when the episode began on 2024-06-03"
    assert facts["Episode"] == "began on 2024-06-03; this follow-up is sent silently, as a reply"
    assert facts["Test"] == "z +2.1 against the year before (a band change is not a test by itself)"
    assert facts["Regime"] == "linked → coupled"
    pushed = alert_message(replace(REGIME, notify=True, episode=None), _context())
    assert not pushed.title.startswith("Follow-up")
    assert "Episode" not in dict(pushed.facts)


def test_a_further_rise_is_a_follow_up_against_the_year_before() -> None:
    """A change the same way inside an episode is a follow-up; its test is still the year's."""
    message = alert_message(_follow_up(SPIKE), _context())
    assert message.title == "Follow-up: BTC~PSCT correlation rises further"
    facts = dict(message.facts)
    assert facts["Compared with"] == f"{_ci(0.21, 250)} over the year before"
    assert facts["Episode"].startswith("began on 2024-06-03")
    falls = alert_message(_follow_up(DECOUPLING), _context())
    assert falls.title == "Follow-up: BTC~PSCT correlation falls further"


def test_settled_message() -> None:
    """The end of an episode says the link is back in line, within noise of the year before."""
    message = alert_message(SETTLED, _context())
    assert message.title == "Follow-up: BTC~PSCT is back in line with the past year"
    assert (
        message.lead == shift_rule.describe(AlertKind.SETTLED, "BTC", "PSCT (US small-cap tech)")[1]
    )
    assert message.lead.startswith("How BTC moves with PSCT (US small-cap tech) is back in line")
    facts = dict(message.facts)
    assert facts["Correlation (30 sessions)"] == _ci(0.30)
    assert facts["Compared with"] == f"{_ci(0.62, 250)} when the episode began on 2024-06-03"
    assert facts["Test"] == "z +0.4: co-movement back within noise of the year before"
    assert facts["Episode"] == "began on 2024-06-03; it ends here (sent silently, as a reply)"


def test_catch_up_message() -> None:
    """After downtime the title says so and the year before is dated at ``since``."""
    message = alert_message(CATCH_UP, _context())
    assert (
        message.title
        == "While the bot was offline, BTC started moving with PSCT (US small-cap tech)"
    )
    facts = dict(message.facts)
    assert facts["Compared with"] == (
        f"{_ci(0.41, 250)} over the year before (last seen on 2024-06-03)"
    )
    assert "Episode" not in facts
    regime = replace(REGIME, catch_up=True, notify=True, episode=None)
    assert alert_message(regime, _context()).title == (
        "While the bot was offline, BTC~PSCT moved from linked to coupled"
    )


@pytest.mark.parametrize(
    ("regime_to", "meaning"),
    [
        ("coupled", "BTC is trading as a tech proxy: shocks to PSCT reach crypto."),
        ("linked", "BTC moves partly with PSCT: tech news matters, but not alone."),
        ("decoupled", "BTC is moving on its own: PSCT explains little of it."),
        ("inverse", "BTC is moving against PSCT: a rare hedge-like pattern."),
    ],
)
def test_regime_lead_explains_the_new_regime(regime_to: str, meaning: str) -> None:
    """Each regime has its own one-line meaning (no label: the bare symbol)."""
    alert = _alert(AlertKind.REGIME, 0.3, 0.6, -2.0, regime_from="other", regime_to=regime_to)
    assert alert_message(alert, _context(labels={})).lead == meaning


def test_label_with_brackets_follows_a_dash() -> None:
    """A label that has its own brackets is written after a dash."""
    context = _context(labels={"PSCT": "Invesco S&P SmallCap IT (PSCT)"})
    assert alert_message(SPIKE, context).lead.startswith(
        "BTC now moves with PSCT - Invesco S&P SmallCap IT (PSCT) more than"
    )


def test_alert_without_context_keeps_its_own_numbers_only() -> None:
    """With no snapshot the message keeps the alert's numbers, intervals and footer only."""
    message = alert_message(SPIKE, None)
    assert message.facts == (
        ("Correlation (30 sessions)", "0.72 (95%: 0.49 to 0.86)"),
        ("Compared with", "0.21 (95%: 0.09 to 0.33) over the year before"),
        ("Test", "z +3.2: co-movement above the year before's, beyond noise"),
        ("Regime", "coupled"),
    )
    assert message.tables == ()
    assert message.notes == ()
    assert message.lead.startswith("BTC now moves with PSCT more than")
    assert message.footer == FOOTER


def test_single_crypto_universe_drops_the_one_row_table() -> None:
    """The table of cryptos against the equity is left out when there is only one crypto."""
    context = _context()
    single = Snapshot(
        as_of=context.as_of,
        headline_window=30,
        windows=WINDOWS,
        crypto=("BTC",),
        equities=EQUITIES,
        readings=tuple(r for r in context.readings if r.crypto == "BTC"),
        vols=context.vols,
        labels=LABELS,
        leaders=LEADERS[:1],
    )
    message = alert_message(SPIKE, single)
    assert message.tables == EXPECTED_TABLES[:1]
    assert "BTC vs ETH" not in dict(message.facts)


# --------------------------------------------------------------------------- intervals everywhere

_WITH_INTERVAL = re.compile(r"-?\d\.\d\d \((?:95%: )?-?\d\.\d\d to -?\d\.\d\d\)")
_INTERVAL_ONLY = re.compile(r"-?\d\.\d\d to -?\d\.\d\d")
_P_VALUE = re.compile(r"p[=<]\d\.\d+")
_TWO_DECIMALS = re.compile(r"(?<![\d.])-?\d\.\d\d(?![\d%x])")


def _bare_correlations(text: str) -> list[str]:
    """Correlations (two decimals) left once every interval and p-value is taken out."""
    for pattern in (_WITH_INTERVAL, _INTERVAL_ONLY, _P_VALUE):
        text = pattern.sub("", text)
    return _TWO_DECIMALS.findall(text)


def _assert_every_correlation_has_its_interval(message: Message) -> None:
    texts = [message.title, message.lead, *(v for _, v in message.facts), *message.notes]
    for text in texts:
        assert _bare_correlations(text) == [], text
    for table in message.tables:
        for column, header in enumerate(table.headers):
            if re.fullmatch(r"\d+d", header):
                assert table.headers[column + 1] == "95%", table
                for row in table.rows:
                    corr, interval = row[column], row[column + 1]
                    assert (corr == "n/a") == (interval == "n/a"), row
                    assert interval == "n/a" or _INTERVAL_ONLY.fullmatch(interval), row


def test_the_checker_catches_a_bare_correlation() -> None:
    """The interval checker fails on a correlation shown alone (so the tests below can fail)."""
    assert _bare_correlations("0.72 (95%: 0.49 to 0.86), was 0.21; p=0.03; 1.2x; 85%") == ["0.21"]
    with pytest.raises(AssertionError):
        _assert_every_correlation_has_its_interval(Message("t", "BTC~PSCT 0.72 today"))


@pytest.mark.parametrize("name", list(EVERY_KIND))
def test_every_correlation_in_an_alert_carries_its_interval(name: str) -> None:
    """Facts, notes and tables of every kind of alert show each correlation with its interval."""
    context = _context({"PSCT": (0.60, 0.25)}, sessions={("BTC", "PSCT", 30): 27})
    message = alert_message(EVERY_KIND[name], context)
    assert message.notes  # the volatility and missing-session notes are checked too
    _assert_every_correlation_has_its_interval(message)


def test_every_correlation_in_corr_carries_its_interval(psct_leads: Analytics) -> None:
    """/corr shows each window's correlation, the rank and adjusted ones with intervals."""
    message = snapshot_message(_snapshot(psct_leads))
    assert len(message.tables) == len(WINDOWS)
    _assert_every_correlation_has_its_interval(message)
    _assert_every_correlation_has_its_interval(snapshot_message(_context({"PSCT": (0.6, 0.25)})))


def test_corr_says_which_regimes_the_correlation_has_left_unconfirmed() -> None:
    """All read "linked": 0.72 is past the coupled edge, -0.05 below linked; 0.41 is in band."""
    notes = [n for n in snapshot_message(_context()).notes if "still reads" in n]
    tail = "not yet for the sessions in a row a band change needs."
    assert notes == [
        f"BTC~PSCT still reads linked: the correlation is already past the coupled edge, "
        f"from 0.5, {tail}",
        f"BTC~IWM still reads linked: the correlation is already past the decoupled edge, "
        f"below 0.2, {tail}",
    ]
    _assert_every_correlation_has_its_interval(snapshot_message(_context()))


# --------------------------------------------------------------------------- which leads


def _leader(t: float, first: float = 0.72, second: float = 0.41) -> Comparison:
    return Comparison("BTC", "PSCT", "QQQ", first, second, t, CRITICAL, 30)


@pytest.mark.parametrize("render", [lambda c: alert_message(SPIKE, c), snapshot_message])
@pytest.mark.parametrize(
    ("leader", "expected"),
    [
        (_leader(2.5), "PSCT (US small-cap tech), BTC~PSCT 0.72 (0.49 to 0.86) vs BTC~QQQ "),
        (
            _leader(1.2),
            "none, BTC~PSCT 0.72 (0.49 to 0.86) vs BTC~QQQ 0.41 (0.06 to 0.67): "
            "statistically tied (Williams' test p=0.24)",
        ),
        (
            _leader(0.0, 0.72, 0.72),
            "none, BTC~PSCT 0.72 (0.49 to 0.86) vs BTC~QQQ 0.72 (0.49 to 0.86): "
            "statistically tied (Williams' test p=1.00)",
        ),
        (
            _leader(math.nan),
            "none, BTC~PSCT 0.72 (0.49 to 0.86) vs BTC~QQQ 0.41 (0.06 to 0.67): "
            "statistically tied (too few sessions for Williams' test)",
        ),
    ],
    ids=["significant", "within-noise", "exact-tie", "no-test"],
)
def test_leader_is_named_only_when_williams_test_is_significant(
    render: Callable[[Snapshot], Message], leader: Comparison, expected: str
) -> None:
    """A leader is named only beyond noise; otherwise, exact ties included, "statistically tied"."""
    corrs = {("BTC", "QQQ"): (leader.corr_second, 0.38)}
    facts = dict(render(_context(leaders=(leader, *LEADERS[1:]), corrs=corrs)).facts)
    text = facts["Leading equity"]
    assert text.startswith(expected)
    assert ("ahead beyond noise" in text) is leader.significant
    assert ("statistically tied" in text) is not leader.significant


@pytest.mark.parametrize("render", [lambda c: alert_message(SPIKE, c), snapshot_message])
@pytest.mark.parametrize(
    ("t", "corr_eth", "verdict"),
    [
        (3.1, 0.66, "BTC ahead beyond noise (Williams' test p=0.004)"),
        (0.6, 0.66, "statistically tied (Williams' test p=0.55)"),
        (0.0, 0.72, "statistically tied (Williams' test p=1.00)"),
    ],
    ids=["significant", "within-noise", "exact-tie"],
)
def test_bitcoin_against_the_altcoins_is_a_test_too(
    render: Callable[[Snapshot], Message], t: float, corr_eth: float, verdict: str
) -> None:
    """BTC against ETH on PSCT: BTC ahead only beyond noise, "statistically tied" otherwise."""
    versus = (Comparison("PSCT", "BTC", "ETH", 0.72, corr_eth, t, CRITICAL, 30), *VERSUS[1:])
    corrs = {("ETH", "PSCT"): (corr_eth, 0.49)}
    facts = dict(render(_context(versus=versus, corrs=corrs)).facts)
    eth = fmt_with_interval(corr_eth, *fisher_interval(corr_eth, 30), short=True)
    assert facts["BTC vs ETH"] == f"BTC~PSCT 0.72 (0.49 to 0.86) vs ETH~PSCT {eth}: {verdict}"


def test_an_altcoin_ahead_is_named_on_the_alerts_equity() -> None:
    """An alert on BTC~IWM weighs BTC against ETH on IWM, where ETH is ahead beyond noise."""
    versus = (*VERSUS[:2], Comparison("IWM", "ETH", "BTC", 0.12, -0.05, 2.4, CRITICAL, 30))
    alert = replace(SPIKE, pair=Pair("BTC", "IWM"), corr=-0.05)
    facts = dict(alert_message(alert, _context(versus=versus)).facts)
    assert facts["BTC vs ETH"] == (
        f"ETH~IWM {fmt_with_interval(0.12, *fisher_interval(0.12, 30), short=True)} vs BTC~IWM "
        f"{fmt_with_interval(-0.05, *fisher_interval(-0.05, 30), short=True)}: "
        "ETH ahead beyond noise (Williams' test p=0.024)"
    )


def test_comparison_text_reads_the_intervals_from_the_snapshot() -> None:
    """Each side of a comparison carries the interval of its own reading."""
    text = comparison_text(_context(), LEADERS[0])
    assert text.startswith(
        f"BTC~PSCT {fmt_with_interval(0.72, *fisher_interval(0.72, 30), short=True)} vs "
        f"BTC~QQQ {fmt_with_interval(0.41, *fisher_interval(0.41, 30), short=True)}: "
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.62, "p=0.62"),
        (0.049, "p=0.049"),
        (0.0502, "p=0.050"),
        (0.0042, "p=0.004"),
        (0.0004, "p<0.001"),
        (math.nan, "p n/a"),
    ],
)
def test_fmt_p(value: float, expected: str) -> None:
    """p-values: two decimals, three under 0.01, a bound under 0.001."""
    assert fmt_p(value) == expected


# --------------------------------------------------------------------------- volatility, gaps


@pytest.mark.parametrize(
    ("alert", "psct", "expected"),
    [
        # PSCT at 2.4x its usual volatility: a rise to 0.45 reads 0.21 at the usual level,
        # inside the year before's interval (0.09 to 0.33); a rise to 0.72 reads 0.40, above it.
        (
            replace(SPIKE, corr=0.45, lower=0.10, upper=0.70),
            (0.60, 0.25),
            "Much of this rise may be volatility",
        ),
        (SPIKE, (0.60, 0.25), "still above the year before's interval"),
        (SPIKE, (0.30, 0.25), None),  # 1.2x: nothing to say
        (
            replace(DECOUPLING, corr=0.20, lower=-0.17, upper=0.52),
            (0.10, 0.25),
            "Much of this fall may be a calm market",
        ),
        (REGIME, (0.60, 0.25), "at its usual volatility this one would read"),
    ],
    ids=["rise-removed", "rise-survives", "usual-volatility", "fall-removed", "follow-up"],
)
def test_volatility_note_says_when_the_adjustment_removes_the_move(
    alert: Alert, psct: tuple[float, float], expected: str | None
) -> None:
    """Forbes-Rigobon: a note when the adjusted figure undoes the move, or volatility is far off."""
    message = alert_message(alert, _context({"PSCT": psct}))
    notes = [n for n in message.notes if "volatile as usual" in n]
    if expected is None:
        assert notes == []
        return
    [note] = notes
    assert expected in note
    ratio = psct[0] / psct[1]
    assert note.startswith(f"PSCT (US small-cap tech) is {ratio:.1f}x as volatile as usual")
    adjusted = volatility_adjusted(alert.corr, ratio)
    assert fmt_corr(adjusted) in note
    assert dict(message.facts)["At usual volatility"].startswith(fmt_corr(adjusted))


def test_the_removed_rise_is_within_the_year_befores_interval() -> None:
    """The "removed" verdict holds exactly when the adjusted figure is under the old upper end."""
    alert = replace(SPIKE, corr=0.45, lower=0.10, upper=0.70)
    adjusted = volatility_adjusted(0.45, 2.4)
    assert adjusted <= alert.prev_upper < alert.corr
    assert volatility_adjusted(SPIKE.corr, 2.4) > SPIKE.prev_upper


def test_missing_sessions_are_noted() -> None:
    """A window with sessions lacking a price says how many and that the interval is wider."""
    context = _context(sessions={("BTC", "PSCT", 30): 26})
    note = (
        "4 of the last 30 sessions lack a price for BTC or PSCT: the correlation uses 26, "
        "and its interval is wider."
    )
    assert note in alert_message(SPIKE, context).notes
    assert note in snapshot_message(context).notes
    assert not any("lack a price" in n for n in alert_message(SPIKE, _context()).notes)
    reading = context.reading(BTC_PSCT, 30)
    assert reading is not None
    assert reading.missing == 4
    assert reading.interval == fisher_interval(0.72, 26)


def test_vol_reading_elevated_property() -> None:
    """VolReading.elevated is vol strictly above 1.5 times the median of the year."""
    assert VolReading("BTC", 30, 0.91, 0.6).elevated
    assert not VolReading("BTC", 30, 0.89, 0.6).elevated
    assert not VolReading("BTC", 30, 0.5, math.nan).elevated


# --------------------------------------------------------------------------- plain text


def test_render_text_of_an_alert_lays_out_every_part() -> None:
    """Title, lead, aligned facts, captioned tables, notes and footer, in that order."""
    message = alert_message(
        replace(SPIKE, corr=0.45, lower=0.10, upper=0.70), _context({"PSCT": (0.60, 0.25)})
    )
    lines = render_text(message).split("\n")
    assert lines[0] == "BTC is moving with PSCT"
    assert lines[1] == message.lead
    assert lines[2] == ""
    width = len("Correlation (30 sessions)")
    assert lines[3] == f"{'Correlation (30 sessions)'.ljust(width)}  0.45 (95%: 0.10 to 0.70)"
    assert (
        lines[4] == f"{'Compared with'.ljust(width)}  0.21 (95%: 0.09 to 0.33) over the year before"
    )
    labels = [line[:width].rstrip() for line in lines[3:12]]
    assert labels == [
        "Correlation (30 sessions)",
        "Compared with",
        "Test",
        "Regime",
        "Rank (Spearman)",
        "At usual volatility",
        "Volatility",
        "Leading equity",
        "BTC vs ETH",
    ]
    rest = lines[12:]
    assert rest[:3] == ["", "BTC against each equity", "vs      30d  95%"]
    assert rest[3].startswith("PSCT   0.72  0.49 to 0.86")
    caption = rest.index("Each crypto against PSCT")
    assert rest[caption + 1] == "crypto   30d  95%"
    assert rest[-3].startswith("! PSCT (US small-cap tech) is 2.4x as volatile as usual")
    assert rest[-2:] == ["", FOOTER]


def test_render_text_of_a_snapshot_lists_every_equity_and_window(psct_leads: Analytics) -> None:
    """The /corr text has a table per window, each equity with its correlation and interval."""
    snapshot = _snapshot(psct_leads, regimes={BTC_PSCT: "coupled"})
    message = snapshot_message(snapshot)
    assert message.title == "BTC vs US equities, 30-session correlation"
    headline = snapshot.reading(BTC_PSCT, HEADLINE)
    assert headline is not None
    assert message.lead == (
        f"BTC~PSCT over 30 sessions: {fmt_with_interval(headline.corr, *headline.interval)}."
    )
    assert [t.caption for t in message.tables] == ["Last 30 sessions", "Last 90 sessions"]
    assert message.tables[0].headers == ("vs", "30d", "95%", "regime")
    assert message.tables[1].headers == ("vs", "90d", "95%")
    for table, window in zip(message.tables, WINDOWS, strict=True):
        assert [row[0] for row in table.rows] == list(EQUITIES)
        for row in table.rows:
            reading = snapshot.reading(Pair("BTC", row[0]), window)
            assert reading is not None
            assert row[1:3] == (fmt_corr(reading.corr), fmt_interval(*reading.interval))
            assert "n/a" not in row[1:3]
            if window == HEADLINE:
                assert row[3] == reading.regime
    assert message.tables[0].rows[0][3] == "coupled"
    text = render_text(message)
    lines = text.split("\n")
    assert lines[-1] == (
        f"Data as of the {snapshot.as_of.isoformat()} NYSE close; windows in sessions; "
        "every correlation with its 95% interval."
    )
    facts = dict(message.facts)
    assert facts["Rank (Spearman)"] == (
        f"BTC~PSCT {fmt_with_interval(headline.rank_corr, *headline.rank_interval)}"
    )
    assert facts["At usual volatility"].startswith(
        f"BTC~PSCT {fmt_with_interval(headline.adjusted, *headline.adjusted_interval)}; PSCT is "
    )
    assert "BTC " in facts["Volatility"]
    assert "PSCT " in facts["Volatility"]


def test_render_text_of_a_snapshot_for_another_crypto(psct_leads: Analytics) -> None:
    """snapshot_message(crypto=...) shows that crypto's correlations."""
    snapshot = _snapshot(psct_leads)
    message = snapshot_message(snapshot, "ETH")
    assert message.title.startswith("ETH vs US equities")
    assert message.lead.startswith("ETH~PSCT over 30 sessions: ")
    rows = message.tables[1].rows
    assert [row[0] for row in rows] == list(EQUITIES)
    for row in rows:
        reading = snapshot.reading(Pair("ETH", row[0]), 90)
        assert reading is not None
        assert row[1] == fmt_corr(reading.corr)
    assert dict(message.facts)["Leading equity"].startswith("PSCT (US small-cap tech), ETH~PSCT ")


def test_snapshot_warnings_are_notes_of_the_corr_reply(psct_leads: Analytics) -> None:
    """Blocking quality issues are shown under the /corr table."""
    issues = [QualityIssue("PSCT", QualityKind.FETCH_FAILED, "HTTP 503")]
    text = render_text(snapshot_message(_snapshot(psct_leads, issues=issues)))
    assert "! PSCT: fetch_failed: HTTP 503" in text.split("\n")


@pytest.mark.parametrize(
    ("psct", "noted"), [((0.30, 0.25), False), ((0.60, 0.25), True), ((0.15, 0.25), True)]
)
def test_corr_notes_volatility_far_from_usual(psct: tuple[float, float], noted: bool) -> None:
    """/corr notes Forbes-Rigobon only when PSCT's volatility is 1.25x off its usual level."""
    notes = snapshot_message(_context({"PSCT": psct})).notes
    volatility = [n for n in notes if "as volatile as usual" in n]
    assert bool(volatility) is noted
    if noted:
        ratio = psct[0] / psct[1]
        adjusted = fmt_corr(volatility_adjusted(0.72, ratio))
        assert f"at its usual volatility BTC~PSCT would read {adjusted} (95%: " in volatility[0]


# --------------------------------------------------------------------------- /about


def _claims(snapshot: Snapshot) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {c.claim: (c.verdict, c.evidence) for c in study_evidence(snapshot)}


MOST = "Crypto moves most with small-cap tech (PSCT)"
LARGE = "More than with large-cap tech (QQQ)"
BITCOIN = "Stronger for BTC than for the altcoins"
POSITIVE = "Positive since 2020"
PEAKS = "Highest when tech is re-priced"


def test_study_claims_are_weighed_not_asserted(psct_leads: Analytics) -> None:
    """With PSCT ahead beyond noise the first claims have evidence for; a tie is not settled."""
    snapshot = _snapshot(psct_leads)
    claims = _claims(snapshot)
    assert list(claims) == [MOST, LARGE, BITCOIN, POSITIVE, PEAKS]
    rival, small = snapshot.rival("BTC", "QQQ"), snapshot.rival("BTC", "IWM")
    assert rival is not None
    assert small is not None
    assert rival.significant
    assert small.significant
    # "most": PSCT tested against every other equity, ahead of each beyond noise
    most = (comparison_text(snapshot, rival), comparison_text(snapshot, small))
    assert claims[MOST] == ("supported", most)
    assert claims[LARGE] == ("supported", (comparison_text(snapshot, rival),))
    against = snapshot.against("PSCT", "ETH")
    assert against is not None
    assert not against.significant
    assert claims[BITCOIN] == ("not settled", (comparison_text(snapshot, against),))
    assert "statistically tied (Williams' test p=" in claims[BITCOIN][1][0]
    verdict, evidence = claims[POSITIVE]
    assert verdict == "supported"
    assert evidence[0].startswith("Today BTC~PSCT ")
    assert evidence[0].endswith(" over 90 sessions: above zero beyond noise")
    assert claims[PEAKS][0] == "not settled"
    assert claims[PEAKS][1][-1] == "one session cannot show a peak: /chart has the history"


def test_study_claims_are_contradicted_when_large_cap_tech_leads(qqq_leads: Analytics) -> None:
    """With QQQ ahead of PSCT beyond noise, both small-cap claims have evidence against."""
    snapshot = _snapshot(qqq_leads)
    claims = _claims(snapshot)
    rival = snapshot.rival("BTC", "QQQ")
    assert rival is not None
    assert rival.first == "QQQ"
    assert rival.significant
    tied = snapshot.rival("BTC", "IWM")
    assert tied is not None
    assert not tied.significant
    # behind QQQ beyond noise: against, however it fares against IWM
    most = (comparison_text(snapshot, rival), comparison_text(snapshot, tied))
    assert claims[MOST] == ("contradicted", most)
    assert claims[LARGE] == ("contradicted", (comparison_text(snapshot, rival),))
    assert claims[MOST][1][0].startswith("BTC~QQQ ")


def test_study_claims_within_noise_are_not_settled() -> None:
    """Ties and an interval across zero settle nothing, whatever the larger number."""
    leaders = (_leader(1.2), *LEADERS[1:])
    context = _context(leaders=leaders)
    claims = _claims(replace(context, rivals=leaders[:1]))
    assert claims[MOST][0] == "not settled"
    assert claims[LARGE][0] == "not settled"
    readings = tuple(
        replace(r, corr=0.10, sessions=r.window) if r.pair == BTC_PSCT else r
        for r in context.readings
    )
    claims = _claims(replace(context, readings=readings))
    assert claims[POSITIVE][0] == "not settled"
    assert claims[POSITIVE][1][0].endswith(" over 90 sessions: the interval includes zero")


def test_the_sign_is_tested_on_the_longest_window() -> None:
    """0.30 over 30 sessions spans zero; over 90 it does not: the long-run claim is supported."""
    context = _context()
    readings = tuple(
        replace(r, corr=0.30, sessions=r.window) if r.pair == BTC_PSCT else r
        for r in context.readings
    )
    assert fisher_interval(0.30, 30)[0] < 0 < fisher_interval(0.30, 90)[0]
    verdict, evidence = _claims(replace(context, readings=readings))[POSITIVE]
    assert verdict == "supported"
    value = fmt_with_interval(0.30, *fisher_interval(0.30, 90), short=True)
    assert evidence == (f"Today BTC~PSCT {value} over 90 sessions: above zero beyond noise",)


def test_the_sign_falls_back_to_the_headline_window_before_the_long_one_exists() -> None:
    """Early on the 90-session correlation is unknown; the 30-session one is tested instead."""
    context = _context()
    readings = tuple(
        replace(r, corr=math.nan) if (r.pair, r.window) == (BTC_PSCT, 90) else r
        for r in context.readings
    )
    _, evidence = _claims(replace(context, readings=readings))[POSITIVE]
    assert " over 30 sessions: " in evidence[0]


def test_study_claims_without_an_altcoin_or_a_large_cap_say_so() -> None:
    """A universe without altcoins or large-cap tech says which evidence it lacks."""
    context = _context()
    single = replace(
        context,
        crypto=("BTC",),
        equities=("PSCT", "IWM"),
        readings=tuple(r for r in context.readings if r.crypto == "BTC" and r.equity != "QQQ"),
        labels={"PSCT": "US small-cap tech"},
        leaders=(),
        versus=(),
    )
    claims = {c.claim: c for c in study_evidence(single)}
    assert claims["More than with large-cap tech"].evidence == (
        "no large-cap tech benchmark is analysed",
    )
    assert claims[BITCOIN].evidence == ("no altcoin is analysed",)
    assert claims[MOST].verdict == "not settled"
