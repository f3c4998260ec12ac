"""The evaluator: analytics and the alert engine for the configured pairs, as one run.

It is the one place the live job, the backtest and the demo meet the engine, so it must
tell exactly what the engine tells per pair, in an order a subscriber can follow, and
hold back the pairs whose data cannot be trusted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from bot.compose import build_evaluator
from bot.config import Config
from bot.core.engine import AlertEngine, AlertSettings, PairState
from bot.core.evaluation import AnalysisSettings, Evaluation, Evaluator
from bot.core.models import Alert, AlertKind, Pair, QualityIssue, QualityKind
from bot.present.wording import SubscriberWording

HEADLINE, SECOND = Pair("BTC", "PSCT"), Pair("BTC", "QQQ")
PAIRS = (HEADLINE, SECOND)
ENGINE = AlertEngine(AlertSettings())
ONSET = 400
#: BTC~PSCT: 0.1, a coupling to 0.85 from session 400, back to 0.1 (BTC~QQQ is 0.6 of it).
STORY = [0.1] * ONSET + [0.85] * 150 + [0.1] * 250


def frame(corr: Sequence[float] = STORY, seed: int = 2) -> pd.DataFrame:
    """Daily returns of BTC, PSCT and QQQ; BTC~PSCT has the given per-session correlation."""
    rng = np.random.default_rng(seed)
    rho = np.asarray(corr, dtype=float)
    common, own, other = rng.standard_normal((3, len(rho)))
    return pd.DataFrame(
        {
            "BTC": 0.035 * (rho * common + np.sqrt(1 - rho**2) * own),
            "PSCT": 0.015 * common,
            "QQQ": 0.012 * (0.6 * common + 0.8 * other),
        },
        index=pd.bdate_range("2018-01-01", periods=len(rho)),
    )


def evaluator(pairs: Sequence[Pair] = PAIRS) -> Evaluator:
    return Evaluator(
        crypto=["BTC"],
        equities=["PSCT", "QQQ"],
        alert_pairs=pairs,
        analysis=AnalysisSettings(),
        engine=ENGINE,
        labels={},
        wording=SubscriberWording(),
    )


def alerts_of(evaluation: Evaluation, pair: Pair) -> list[Alert]:
    return [alert for alert, _ in evaluation.alerts if alert.pair == pair]


def day(returns: pd.DataFrame, position: int) -> date:
    return pd.Timestamp(returns.index[position]).date()


RETURNS = frame()
BACKTEST = evaluator().evaluate(RETURNS, {}, mode="backtest")


def test_analysis_settings_defaults_are_the_configured_defaults() -> None:
    """One source of defaults: AnalysisSettings() is what the default config builds."""
    assert build_evaluator(Config()).analysis == AnalysisSettings()


def test_the_evaluation_tells_per_pair_exactly_what_the_engine_tells() -> None:
    """Each pair's alerts and state are the engine's own, walking that pair alone."""
    for pair in PAIRS:
        scan = ENGINE.scan(pair, RETURNS[pair.crypto], RETURNS[pair.equity])
        state, alerts = ENGINE.advance(scan, PairState(), mode="backtest")
        assert alerts_of(BACKTEST, pair) == alerts
        assert BACKTEST.states[pair] == state
    assert BACKTEST.held_back == {}


def test_the_coupling_is_pushed_for_both_pairs() -> None:
    """The story has one coupling: each pair's first push is a spike after the onset."""
    for pair in PAIRS:
        first = next(a for a in alerts_of(BACKTEST, pair) if a.notify)
        assert first.kind is AlertKind.SPIKE
        assert first.session >= day(RETURNS, ONSET)


def test_alerts_come_in_session_order_each_reply_after_its_opening() -> None:
    """Alerts are ordered by session; every follow-up comes after the push it replies to."""
    alerts = [alert for alert, _ in BACKTEST.alerts]
    assert [a.session for a in alerts] == sorted(a.session for a in alerts)
    pushed: set[str] = set()
    for alert in alerts:
        if alert.notify:
            pushed.add(alert.key)
        else:
            assert alert.episode in pushed
    assert any(not a.notify for a in alerts)


def test_every_alert_comes_with_what_subscribers_read_that_day() -> None:
    """Each alert's message names the pair and is dated the alert's session."""
    assert BACKTEST.alerts
    for alert, message in BACKTEST.alerts:
        assert alert.pair.crypto in message.title
        assert message.footer == f"Data as of the {alert.session.isoformat()} NYSE close."


def test_the_snapshot_is_as_of_the_last_session_with_the_engine_regime() -> None:
    """The snapshot is the last session's, and its regime is the engine's on that session."""
    snapshot = BACKTEST.snapshot
    assert snapshot is not None
    assert snapshot.as_of == day(RETURNS, -1)
    for pair in PAIRS:
        scan = ENGINE.scan(pair, RETURNS[pair.crypto], RETURNS[pair.equity])
        reading = snapshot.reading(pair, 30)
        assert reading is not None
        assert reading.regime == scan.regime_at(len(RETURNS) - 1)


def test_live_first_sight_is_silent_and_remembers_the_last_session() -> None:
    """A live run that has never seen the pairs tells nothing and warms them up."""
    live = evaluator().evaluate(RETURNS, {}, mode="live")
    assert live.alerts == []
    assert {pair: state.last_session for pair, state in live.states.items()} == {
        pair: day(RETURNS, -1) for pair in PAIRS
    }


def test_a_backtest_from_a_start_warms_up_silently_before_it() -> None:
    """With ``start`` nothing before it is told, and the rest is the engine's from a warm state."""
    start = day(RETURNS, ONSET - 10)
    run = evaluator().evaluate(RETURNS, {}, mode="backtest", start=start)
    assert run.alerts
    assert all(alert.session >= start for alert, _ in run.alerts)
    for pair in PAIRS:
        scan = ENGINE.scan(pair, RETURNS[pair.crypto], RETURNS[pair.equity])
        warm, silent = ENGINE.advance(
            scan, PairState(), mode="backtest", until=start - timedelta(days=1), told=False
        )
        assert silent == []
        _, expected = ENGINE.advance(scan, warm, mode="backtest")
        assert alerts_of(run, pair) == expected


def test_a_start_after_an_opening_keeps_its_follow_ups_silent() -> None:
    """Started inside an episode, its follow-ups are not told: nobody got its opening."""
    spike = next(a for a in alerts_of(BACKTEST, HEADLINE) if a.notify)
    follow_ups = [a for a in alerts_of(BACKTEST, HEADLINE) if a.episode == spike.key]
    assert any(a.session > spike.session for a in follow_ups), "the episode has follow-ups"
    run = evaluator([HEADLINE]).evaluate(
        RETURNS, {}, mode="backtest", start=spike.session + timedelta(days=1)
    )
    assert all(alert.episode != spike.key for alert, _ in run.alerts)


def test_end_stops_the_run_there() -> None:
    """With ``end`` later sessions are left for a later run, snapshot included."""
    end = day(RETURNS, ONSET + 50)
    run = evaluator().evaluate(RETURNS, {}, mode="backtest", end=end)
    assert all(state.last_session == end for state in run.states.values())
    assert all(alert.session <= end for alert, _ in run.alerts)
    assert run.snapshot is not None
    assert run.snapshot.as_of == end
    rest = evaluator().evaluate(RETURNS, run.states, mode="backtest")
    assert [a for a, _ in run.alerts] + [a for a, _ in rest.alerts] == [
        a for a, _ in BACKTEST.alerts
    ]


def test_a_trailing_session_without_both_returns_waits_for_the_next_run() -> None:
    """A last session missing the crypto return is not passed: the engine sees it later."""
    partial = RETURNS.copy()
    partial.loc[partial.index[-1], "BTC"] = np.nan
    run = evaluator().evaluate(partial, {}, mode="live")
    assert all(state.last_session == day(RETURNS, -2) for state in run.states.values())
    later = evaluator().evaluate(RETURNS, run.states, mode="live")
    assert all(state.last_session == day(RETURNS, -1) for state in later.states.values())


def test_a_pair_without_one_complete_session_is_left_as_it_was() -> None:
    """No session with both prices: no state, no alert, no regime."""
    empty = RETURNS.copy()
    empty["QQQ"] = np.nan
    run = evaluator().evaluate(empty, {}, mode="backtest")
    assert run.states[SECOND] == PairState()
    assert alerts_of(run, SECOND) == []
    assert run.states[HEADLINE] == BACKTEST.states[HEADLINE]


@pytest.mark.parametrize("kind", [QualityKind.STALE, QualityKind.FETCH_FAILED])
def test_stale_or_failed_data_holds_the_pair_back_and_keeps_its_state(kind: QualityKind) -> None:
    """An issue on PSCT blocks BTC~PSCT only: no alert, the state it had, the issue named."""
    before = {HEADLINE: PairState(last_session=day(RETURNS, ONSET - 50))}
    issue = QualityIssue("PSCT", kind, "no price today", (day(RETURNS, -1),))
    run = evaluator().evaluate(RETURNS, before, mode="backtest", issues=[issue])
    assert run.held_back == {HEADLINE: [issue]}
    assert run.states[HEADLINE] == before[HEADLINE]
    assert alerts_of(run, HEADLINE) == []
    assert alerts_of(run, SECOND) == alerts_of(BACKTEST, SECOND)


def test_a_broken_price_blocks_only_while_the_rules_can_read_it() -> None:
    """A bad price inside the last two windows blocks; an older one no longer does."""
    recent = QualityIssue("BTC", QualityKind.BAD_PRICE, "zero close", (day(RETURNS, -10),))
    old = QualityIssue("BTC", QualityKind.BAD_PRICE, "zero close", (day(RETURNS, -61),))
    blocked = evaluator().evaluate(RETURNS, {}, mode="backtest", issues=[recent])
    passed = evaluator().evaluate(RETURNS, {}, mode="backtest", issues=[old])
    assert set(blocked.held_back) == set(PAIRS)
    assert passed.held_back == {}
    assert [a for a, _ in passed.alerts] == [a for a, _ in BACKTEST.alerts]


def test_an_outlier_is_a_warning_not_a_block() -> None:
    """Outliers are reported, but the pair still advances."""
    outlier = QualityIssue("BTC", QualityKind.OUTLIER, "a 9-sigma day", (day(RETURNS, -1),))
    run = evaluator().evaluate(RETURNS, {}, mode="backtest", issues=[outlier])
    assert run.held_back == {}
    assert run.states == BACKTEST.states


@pytest.mark.parametrize("seed", [21, 22])
def test_a_long_noisy_history_pushes_at_most_once_per_pair_and_episode(seed: int) -> None:
    """A correlation wandering for six years: per pair, one push per episode start.

    Every push opens its own episode; a second push of a pair while its episode is open
    goes the other way (a new change), never the same way twice.
    """
    rng = np.random.default_rng(seed)
    walk = np.clip(0.3 + np.cumsum(rng.normal(0, 0.04, 1500)), -0.6, 0.9)
    run = evaluator().evaluate(frame(walk.tolist(), seed=seed), {}, mode="backtest")
    assert sum(alert.notify for alert, _ in run.alerts) >= 2
    changes = (AlertKind.SPIKE, AlertKind.DECOUPLING)
    assert any(not a.notify and a.kind in changes for a, _ in run.alerts), (
        "a further change the same way, told silently inside its episode"
    )
    for pair in PAIRS:
        open_direction = None
        for alert in alerts_of(run, pair):
            if alert.notify:
                assert alert.episode == alert.key
                assert alert.direction != open_direction
                open_direction = alert.direction
            elif alert.kind is AlertKind.SETTLED:
                open_direction = None
