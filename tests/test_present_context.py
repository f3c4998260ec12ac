"""What alerts and /corr both show (bot.present.context): which leads, tested, and the gaps."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest

from bot.core.message import Message
from bot.core.models import Pair
from bot.core.snapshot import Comparison, Snapshot
from bot.core.stats import fisher_interval
from bot.present.alerts import alert_message
from bot.present.context import comparison_text
from bot.present.corr import snapshot_message
from bot.present.numbers import fmt_with_interval
from tests.fakes.messages import BTC_PSCT, CRITICAL, LEADERS, SPIKE, VERSUS
from tests.fakes.messages import hand_made_snapshot as _context
from tests.fakes.messages import leader_test as _leader

# --------------------------------------------------------------------------- which leads


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


# --------------------------------------------------------------------------- gaps


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
