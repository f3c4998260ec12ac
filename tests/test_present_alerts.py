"""An alert's message and the /alerts list (bot.present.alerts).

Every kind of alert on a hand-made snapshot, word for word where the wording matters; each
correlation with its 95% interval; the Forbes-Rigobon volatility note; then the /alerts
list, one escaped HTML line per stored alert.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bot.core.message import Message, Table
from bot.core.models import Alert, AlertKind, Pair
from bot.core.regimes import RegimeBands
from bot.core.rules import shift as shift_rule
from bot.core.snapshot import Snapshot
from bot.core.stats import fisher_interval, volatility_adjusted
from bot.present.alerts import alert_message, alerts_list_html
from bot.present.numbers import fmt_corr, fmt_interval, fmt_with_interval
from tests.fakes.messages import (
    CATCH_UP,
    DECOUPLING,
    EQUITIES,
    EVERY_KIND,
    FOOTER,
    LABELS,
    LEADERS,
    NASTY,
    REGIME,
    SETTLED,
    SPIKE,
    STORED_EPISODE,
    WINDOWS,
    stored_alert,
    visible,
)
from tests.fakes.messages import alert_with_intervals as _alert
from tests.fakes.messages import (
    assert_every_correlation_has_its_interval as _assert_every_correlation_has_its_interval,
)
from tests.fakes.messages import bare_correlations as _bare_correlations
from tests.fakes.messages import follow_up as _follow_up
from tests.fakes.messages import hand_made_snapshot as _context


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


# --------------------------------------------------------------------------- volatility


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


# --------------------------------------------------------------------------- intervals everywhere


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


# --------------------------------------------------------------------------- /alerts


def test_alerts_list_says_what_the_brackets_hold() -> None:
    """The list opens by saying that the brackets are 95% intervals."""
    assert "Recent alerts\nCorrelations with their 95% intervals.\n" in visible(
        alerts_list_html([stored_alert()])
    )


def test_alerts_list_regime_follow_up() -> None:
    """A band change inside an episode reads as a follow-up, with bands, levels, intervals."""
    markup = alerts_list_html([stored_alert(notify=False, episode=STORED_EPISODE)])
    assert (
        "2024-08-26 · BTC~PSCT · regime follow-up: linked → coupled, 0.59 (0.31 to 0.78), "
        "was 0.34 (0.22 to 0.45)"
    ) in visible(markup)


def test_alerts_list_spike_with_intervals_signed_change_and_z() -> None:
    """A spike shows the move with both intervals, its signed change and z."""
    markup = alerts_list_html(
        [stored_alert(AlertKind.SPIKE, regime_from="linked", regime_to="linked")]
    )
    assert (
        "2024-08-26 · BTC~PSCT · spike: 0.34 (0.22 to 0.45) → 0.59 (0.31 to 0.78), "
        "change +0.25, z +3.1"
    ) in visible(markup)


def test_alerts_list_further_rise_is_a_follow_up() -> None:
    """A further rise inside an episode is marked as a follow-up."""
    stored = stored_alert(AlertKind.SPIKE, notify=False, episode=STORED_EPISODE)
    assert "· spike follow-up: 0.34 (0.22 to 0.45) → 0.59" in visible(alerts_list_html([stored]))


def test_alerts_list_decoupling_with_negative_numbers() -> None:
    """A decoupling shows negative levels, change and z with their minus signs."""
    stored = stored_alert(
        AlertKind.DECOUPLING,
        corr=-0.2,
        prev_corr=0.45,
        z=-2.96,
        lower=-0.52,
        upper=0.17,
        prev_lower=0.35,
        prev_upper=0.54,
    )
    text = visible(alerts_list_html([stored]))
    assert (
        "2024-08-26 · BTC~PSCT · decoupling: 0.45 (0.35 to 0.54) → -0.20 (-0.52 to 0.17), "
        "change -0.65, z -3.0"
    ) in text


def test_alerts_list_settled() -> None:
    """The end of an episode says the link is back in line, against the episode's start."""
    stored = stored_alert(
        AlertKind.SETTLED,
        corr=0.30,
        lower=-0.07,
        upper=0.59,
        prev_corr=0.59,
        prev_lower=0.29,
        prev_upper=0.78,
        notify=False,
        episode=STORED_EPISODE,
    )
    text = visible(alerts_list_html([stored]))
    assert (
        "BTC~PSCT · settled follow-up: back in line, 0.30 (-0.07 to 0.59), "
        "was 0.59 (0.29 to 0.78) at the episode's start"
    ) in text


def test_alerts_list_catch_up() -> None:
    """A catch-up summary says it is one and since when."""
    stored = stored_alert(AlertKind.SPIKE, catch_up=True, since=date(2024, 8, 20))
    text = visible(alerts_list_html([stored]))
    assert "BTC~PSCT · catch-up since 2024-08-20, spike: 0.34 (0.22 to 0.45) → 0.59" in text


def test_alerts_list_of_alerts_stored_without_intervals() -> None:
    """An alert recorded before intervals existed shows its bare numbers, no "n/a" brackets."""
    nan = float("nan")
    stored = stored_alert(lower=nan, upper=nan, prev_lower=nan, prev_upper=nan)
    text = visible(alerts_list_html([stored]))
    assert "· regime: linked → coupled, 0.59, was 0.34" in text


@pytest.mark.parametrize("kind", list(AlertKind))
@pytest.mark.parametrize("notify", [True, False])
def test_alerts_list_renders_every_kind_to_valid_html(kind: AlertKind, notify: bool) -> None:
    """Every kind, pushed or silent, with odd symbols, is one valid line."""
    stored = stored_alert(kind, pair=Pair("BTC", NASTY), notify=notify, episode=STORED_EPISODE)
    text = visible(alerts_list_html([stored]))
    [line] = [line for line in text.splitlines() if line.startswith("2024-08-26")]
    assert f"· BTC~{NASTY} · {kind.value}" in line
    assert ("follow-up" in line) is not notify


def test_alerts_list_keeps_order_one_line_each() -> None:
    """Alerts appear one per line in the order given (the store gives newest first)."""
    newer = stored_alert(session=date(2024, 8, 27))
    older = stored_alert(AlertKind.SPIKE, session=date(2024, 8, 1))
    lines = visible(alerts_list_html([newer, older])).splitlines()
    entries = [line for line in lines if line[:4].isdigit()]
    assert [e[:10] for e in entries] == ["2024-08-27", "2024-08-01"]


def test_alerts_list_escapes_symbols() -> None:
    """Odd symbols in a pair are escaped like everything else."""
    markup = alerts_list_html([stored_alert(pair=Pair("BTC", "S&P<5>"))])
    assert "BTC~S&P<5>" in visible(markup)


def test_alerts_list_empty() -> None:
    """No alerts gives a friendly sentence, not an empty message."""
    text = alerts_list_html([])
    assert text.startswith("No alerts yet")
    assert visible(text) == text
