"""Snapshots built from generated analytics, and the messages and text made from them."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bot.core.analytics import Analytics, compute_analytics
from bot.core.messages import (
    Message,
    Table,
    alert_message,
    fmt_change,
    fmt_corr,
    fmt_vol,
    fmt_z,
    render_text,
    snapshot_message,
)
from bot.core.models import Alert, AlertKind, Pair, QualityIssue, QualityKind
from bot.core.regimes import RegimeBands
from bot.core.snapshot import PairReading, Snapshot, VolReading, build_snapshot

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


def _same_record(a: PairReading | VolReading, b: PairReading | VolReading) -> bool:
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
    assert snapshot.leader("BTC") == "PSCT"


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
    """On session 103 the 90d value of session 82 does not exist (the first is 89): NaN change."""
    assert psct_leads.corr[("BTC", "PSCT", 90)].first_valid_index() == psct_leads.sessions[89]
    snapshot = _snapshot(psct_leads, at=psct_leads.sessions[103].date())
    reading = snapshot.reading(BTC_PSCT, 90)
    assert reading is not None
    assert not math.isnan(reading.change_week)
    assert math.isnan(reading.change_month)


def test_leader_is_the_first_equity_when_it_leads(psct_leads: Analytics) -> None:
    """When crypto loads on PSCT, PSCT has the highest headline correlation and leads."""
    snapshot = _snapshot(psct_leads)
    for crypto in CRYPTO:
        headline = {e: _corr(snapshot, Pair(crypto, e), HEADLINE) for e in EQUITIES}
        assert max(headline, key=headline.__getitem__) == "PSCT"
        assert headline["PSCT"] > max(headline["QQQ"], headline["IWM"]) + 0.2
        assert snapshot.leader(crypto) == "PSCT"
    message = snapshot_message(snapshot)
    assert message.lead == (
        "Most correlated with PSCT (US small-cap tech): small-cap tech leads today."
    )


def test_leader_is_another_equity_when_the_first_does_not_lead(qqq_leads: Analytics) -> None:
    """When crypto loads on QQQ, QQQ leads and the lead says small-cap tech does not."""
    snapshot = _snapshot(qqq_leads)
    for crypto in CRYPTO:
        headline = {e: _corr(snapshot, Pair(crypto, e), HEADLINE) for e in EQUITIES}
        assert headline["QQQ"] > max(headline["PSCT"], headline["IWM"]) + 0.2
        assert snapshot.leader(crypto) == "QQQ"
    assert snapshot.leader("DOGE") is None
    message = snapshot_message(snapshot, "ETH")
    assert message.lead == (
        "Most correlated with QQQ (Nasdaq 100), not PSCT (US small-cap tech): "
        "small-cap tech does not lead today."
    )


def test_leader_uses_the_headline_window_only() -> None:
    """A higher correlation in a non-headline window does not make a leader."""
    readings = (
        PairReading("BTC", "PSCT", 30, 0.40, 0.1, 0.0, 0.0, 0.3, "linked"),
        PairReading("BTC", "QQQ", 30, 0.35, 0.1, 0.0, 0.0, 0.3, "linked"),
        PairReading("BTC", "QQQ", 90, 0.90, 0.1, 0.0, 0.0, 0.3, None),
        PairReading("BTC", "IWM", 30, math.nan, 0.1, 0.0, 0.0, 0.3, None),
    )
    snapshot = Snapshot(date(2024, 6, 14), 30, (30, 90), ("BTC",), EQUITIES, readings, ())
    assert snapshot.leader("BTC") == "PSCT"


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


def test_json_round_trip_is_exact_including_nan(psct_leads: Analytics) -> None:
    """to_json/from_json gives back every field, NaN included, and JSON has no NaN token."""
    issues = [QualityIssue("PSCT", QualityKind.STALE, "late")]
    snapshot = _snapshot(
        psct_leads,
        at=psct_leads.sessions[40].date(),
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
    assert back.warnings == snapshot.warnings == ("PSCT: stale: late",)
    assert len(back.readings) == len(snapshot.readings)
    assert all(_same_record(a, b) for a, b in zip(back.readings, snapshot.readings, strict=True))
    assert len(back.vols) == len(snapshot.vols)
    assert all(_same_record(a, b) for a, b in zip(back.vols, snapshot.vols, strict=True))
    assert back.to_json() == text


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
CORRS = {  # (crypto, equity): (30d, 90d)
    ("BTC", "PSCT"): (0.72, 0.55),
    ("BTC", "QQQ"): (0.41, 0.38),
    ("BTC", "IWM"): (-0.05, math.nan),
    ("ETH", "PSCT"): (0.66, 0.49),
    ("ETH", "QQQ"): (0.30, 0.33),
    ("ETH", "IWM"): (0.12, 0.10),
}


def _context(
    vols: dict[str, tuple[float, float]] | None = None, labels: dict[str, str] | None = None
) -> Snapshot:
    """A hand-made snapshot; ``vols`` maps a symbol to (30d vol, its median) to override."""
    readings = tuple(
        PairReading(c, e, w, CORRS[(c, e)][i], 0.2, 0.05, -0.1, 0.5, "linked" if w == 30 else None)
        for c in CRYPTO
        for e in EQUITIES
        for i, w in enumerate(WINDOWS)
    )
    usual = {"BTC": (0.85, 0.60), "ETH": (0.95, 0.75), "PSCT": (0.30, 0.25)}
    usual |= {"QQQ": (0.22, 0.20), "IWM": (0.26, 0.21)}
    usual |= vols or {}
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
        readings=readings,
        vols=vol_readings,
        labels=LABELS if labels is None else labels,
    )


def _alert(kind: AlertKind, corr: float, prev: float, z: float, **kwargs: Any) -> Alert:
    return Alert(kind, BTC_PSCT, 30, SESSION, corr, prev, z, **kwargs)


SPIKE = _alert(AlertKind.SPIKE, 0.72, 0.21, 3.25, regime_from="coupled", regime_to="coupled")
DECOUPLING = _alert(
    AlertKind.DECOUPLING, 0.05, 0.48, -3.4, regime_from="linked", regime_to="linked"
)
REGIME = _alert(AlertKind.REGIME, 0.72, 0.45, 2.1, regime_from="linked", regime_to="coupled")
CATCH_UP = _alert(
    AlertKind.REGIME,
    0.72,
    0.41,
    1.7,
    regime_from="linked",
    regime_to="coupled",
    catch_up=True,
    since=date(2024, 6, 3),
)

EXPECTED_TABLES = (
    Table(
        "BTC against each equity",
        ("vs", "30d", "90d"),
        (("PSCT", "0.72", "0.55"), ("QQQ", "0.41", "0.38"), ("IWM", "-0.05", "n/a")),
        (1, 2),
    ),
    Table(
        "Each crypto against PSCT",
        ("crypto", "30d", "90d"),
        (("BTC", "0.72", "0.55"), ("ETH", "0.66", "0.49")),
        (1, 2),
    ),
)
VOL_LINE = "BTC 85% (usual 60%), PSCT 30% (usual 25%) annualized"
FOOTER = "Data as of the 2024-06-14 NYSE close."


def test_spike_message() -> None:
    """A spike names the pair, says why it matters, and gives every number."""
    message = alert_message(SPIKE, _context())
    assert message == Message(
        title="BTC~PSCT correlation spike",
        lead=(
            "BTC suddenly moves with PSCT (US small-cap tech): "
            "tech shocks now carry over to crypto."
        ),
        facts=(
            ("Correlation (30 sessions)", "0.72, was 0.21 over the 30 sessions before"),
            ("Change", "+0.51 (z +3.2)"),
            ("Regime", "coupled (unchanged)"),
            ("Volatility", VOL_LINE),
        ),
        tables=EXPECTED_TABLES,
        footer=FOOTER,
        notes=(),
    )


def test_decoupling_message() -> None:
    """A decoupling has its own wording and a negative change."""
    message = alert_message(DECOUPLING, _context())
    assert message.title == "BTC~PSCT decoupling"
    assert message.lead == (
        "BTC has broken away from PSCT (US small-cap tech): its moves are its own again."
    )
    assert message.facts == (
        ("Correlation (30 sessions)", "0.05, was 0.48 over the 30 sessions before"),
        ("Change", "-0.43 (z -3.4)"),
        ("Regime", "linked (unchanged)"),
        ("Volatility", VOL_LINE),
    )
    assert message.tables == EXPECTED_TABLES
    assert message.footer == FOOTER


def test_regime_message() -> None:
    """A regime change names both regimes with an arrow and explains the new one."""
    message = alert_message(REGIME, _context())
    assert message.title == "BTC~PSCT regime change: linked → coupled"
    assert message.lead == (
        "BTC is trading as a tech proxy: shocks to PSCT (US small-cap tech) now reach crypto."
    )
    assert message.facts == (
        ("Correlation (30 sessions)", "0.72, was 0.45 over the 30 sessions before"),
        ("Change", "+0.27 (z +2.1)"),
        ("Regime", "linked → coupled"),
        ("Volatility", VOL_LINE),
    )
    assert message.tables == EXPECTED_TABLES
    assert message.footer == FOOTER


def test_catch_up_regime_message() -> None:
    """After downtime the title says so and the before-value is dated at ``since``."""
    message = alert_message(CATCH_UP, _context())
    assert message.title == "While the bot was offline, BTC~PSCT moved from linked to coupled"
    assert message.lead == (
        "BTC is trading as a tech proxy: shocks to PSCT (US small-cap tech) now reach crypto."
    )
    assert message.facts == (
        ("Correlation (30 sessions)", "0.72, was 0.41 on 2024-06-03"),
        ("Change", "+0.31 (z +1.7)"),
        ("Regime", "linked → coupled"),
        ("Volatility", VOL_LINE),
    )
    assert message.tables == EXPECTED_TABLES
    assert message.footer == FOOTER


@pytest.mark.parametrize(
    ("regime_to", "meaning"),
    [
        ("coupled", "BTC is trading as a tech proxy: shocks to PSCT now reach crypto."),
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
        "BTC suddenly moves with PSCT - Invesco S&P SmallCap IT (PSCT): "
    )


def test_alert_without_context_has_no_volatility_nor_tables() -> None:
    """With no snapshot the message keeps the alert's own numbers and footer only."""
    message = alert_message(SPIKE, None)
    assert [label for label, _ in message.facts] == [
        "Correlation (30 sessions)",
        "Change",
        "Regime",
    ]
    assert message.tables == ()
    assert message.notes == ()
    assert message.lead == ("BTC suddenly moves with PSCT: tech shocks now carry over to crypto.")
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
    )
    assert alert_message(SPIKE, single).tables == EXPECTED_TABLES[:1]


ELEVATED = "Volatility is elevated: correlations read higher in such times."


@pytest.mark.parametrize(
    ("vols", "elevated"),
    [
        ({}, False),  # BTC 0.85 vs 0.60 (1.42x), PSCT 0.30 vs 0.25 (1.2x)
        ({"BTC": (0.91, 0.60)}, True),  # crypto leg above 1.5x
        ({"PSCT": (0.40, 0.25)}, True),  # equity leg above 1.5x
        ({"PSCT": (0.375, 0.25)}, False),  # exactly 1.5x is not above it
        ({"ETH": (3.0, 0.5), "QQQ": (3.0, 0.5)}, False),  # other symbols do not count
        ({"BTC": (math.nan, 0.6)}, False),  # unknown is not elevated
    ],
)
def test_elevated_volatility_note_only_above_one_and_a_half_median(
    vols: dict[str, tuple[float, float]], elevated: bool
) -> None:
    """The note appears only when a leg of the pair has vol > 1.5x its median."""
    context = _context(vols)
    message = alert_message(SPIKE, context)
    assert message.notes == ((ELEVATED,) if elevated else ())
    assert (ELEVATED in render_text(message)) is elevated


def test_vol_reading_elevated_property() -> None:
    """VolReading.elevated is vol strictly above 1.5 times the median of the year."""
    assert VolReading("BTC", 30, 0.91, 0.6).elevated
    assert not VolReading("BTC", 30, 0.89, 0.6).elevated
    assert not VolReading("BTC", 30, 0.5, math.nan).elevated


# --------------------------------------------------------------------------- plain text


def test_render_text_of_an_alert_lays_out_every_part() -> None:
    """Title, lead, aligned facts, captioned tables, notes and footer, in that order."""
    message = alert_message(SPIKE, _context({"BTC": (1.2, 0.6)}))
    text = render_text(message)
    lines = text.split("\n")
    assert lines[0] == "BTC~PSCT correlation spike"
    assert lines[1] == message.lead
    assert lines[2] == ""
    assert lines[3] == ("Correlation (30 sessions)  0.72, was 0.21 over the 30 sessions before")
    assert lines[4] == "Change                     +0.51 (z +3.2)"
    assert lines[5] == "Regime                     coupled (unchanged)"
    assert (
        lines[6]
        == "Volatility                 BTC 120% (usual 60%), PSCT 30% (usual 25%) annualized"
    )
    assert lines[7:13] == [
        "",
        "BTC against each equity",
        "vs      30d   90d",
        "PSCT   0.72  0.55",
        "QQQ    0.41  0.38",
        "IWM   -0.05   n/a",
    ]
    assert lines[13:18] == [
        "",
        "Each crypto against PSCT",
        "crypto   30d   90d",
        "BTC     0.72  0.55",
        "ETH     0.66  0.49",
    ]
    assert lines[18:] == ["", f"! {ELEVATED}", "", FOOTER]


def test_render_text_of_a_snapshot_lists_every_equity_and_window(psct_leads: Analytics) -> None:
    """The /corr text has a row per equity with each window's correlation, change and regime."""
    snapshot = _snapshot(psct_leads, regimes={BTC_PSCT: "coupled"})
    message = snapshot_message(snapshot)
    assert message.title == "BTC vs US equities, 30-session correlation"
    text = render_text(message)
    lines = text.split("\n")
    header = next(line for line in lines if line.startswith("vs"))
    assert header.split() == ["vs", "30d", "90d", "1w", "chg", "regime"]
    for equity in EQUITIES:
        row = next(line for line in lines if line.startswith(f"{equity} "))
        cells = row.split()
        expected = [fmt_corr(_corr(snapshot, Pair("BTC", equity), w)) for w in WINDOWS]
        headline = snapshot.reading(Pair("BTC", equity), HEADLINE)
        assert headline is not None
        assert cells == [
            equity,
            *expected,
            fmt_change(headline.change_week),
            headline.regime,
        ]
        assert all(cell != "n/a" for cell in expected)
    assert lines[-1] == (
        f"Data as of the {snapshot.as_of.isoformat()} NYSE close; windows in sessions."
    )
    assert "Volatility" in text
    assert "BTC " in message.facts[0][1]
    assert "PSCT " in message.facts[0][1]


def test_render_text_of_a_snapshot_for_another_crypto(psct_leads: Analytics) -> None:
    """snapshot_message(crypto=...) shows that crypto's correlations."""
    snapshot = _snapshot(psct_leads)
    message = snapshot_message(snapshot, "ETH")
    assert message.title.startswith("ETH vs US equities")
    rows = message.tables[0].rows
    assert [row[0] for row in rows] == list(EQUITIES)
    for row in rows:
        reading = snapshot.reading(Pair("ETH", row[0]), 90)
        assert reading is not None
        assert row[2] == fmt_corr(reading.corr)


def test_snapshot_warnings_are_notes_of_the_corr_reply(psct_leads: Analytics) -> None:
    """Blocking quality issues are shown under the /corr table."""
    issues = [QualityIssue("PSCT", QualityKind.FETCH_FAILED, "HTTP 503")]
    text = render_text(snapshot_message(_snapshot(psct_leads, issues=issues)))
    assert "! PSCT: fetch_failed: HTTP 503" in text.split("\n")
