"""The /corr reply and the daily digest (bot.present.corr)."""

from __future__ import annotations

import pytest

from bot.core.analytics import Analytics
from bot.core.models import Pair, QualityIssue, QualityKind
from bot.core.stats import volatility_adjusted
from bot.present.corr import snapshot_message
from bot.present.numbers import fmt_corr, fmt_interval, fmt_with_interval
from bot.present.plain import render_text
from tests.fakes.messages import BTC_PSCT, EQUITIES, HEADLINE, WINDOWS
from tests.fakes.messages import analytics_of as _analytics
from tests.fakes.messages import (
    assert_every_correlation_has_its_interval as _assert_every_correlation_has_its_interval,
)
from tests.fakes.messages import hand_made_snapshot as _context
from tests.fakes.messages import led_returns as _returns
from tests.fakes.messages import snapshot_of as _snapshot


@pytest.fixture(scope="module")
def psct_leads() -> Analytics:
    """Generated returns where every crypto loads heavily on PSCT."""
    return _analytics(_returns("PSCT"))


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
