"""/about (bot.present.study): the JPMorgan study's claims weighed against today's data."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from bot.core.analytics import Analytics
from bot.core.snapshot import Snapshot
from bot.core.stats import fisher_interval
from bot.present.context import comparison_text
from bot.present.numbers import fmt_with_interval
from bot.present.study import study_evidence
from tests.fakes.messages import BTC_PSCT, LEADERS
from tests.fakes.messages import analytics_of as _analytics
from tests.fakes.messages import hand_made_snapshot as _context
from tests.fakes.messages import leader_test as _leader
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
