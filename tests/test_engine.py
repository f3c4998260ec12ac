"""The alert engine on scenarios with known right answers."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bot.core.engine import AlertEngine, AlertSettings, PairState
from bot.core.models import AlertKind, Pair
from bot.core.regimes import RegimeBands

PAIR = Pair("BTC", "PSCT")
SETTINGS = AlertSettings(
    window=30,
    bands=RegimeBands((-0.2, 0.2, 0.5), hysteresis=0.05),
    confirm_sessions=3,
    spike_z=3.0,
    spike_min_change=0.35,
    cooldown_sessions=15,
    override_z=1.0,
)


def _series(values: list[float], start: str = "2024-01-02") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)), dtype="float64")


def _run(corr: list[float], prev: list[float] | None = None, **kwargs):  # type: ignore[no-untyped-def]
    engine = AlertEngine(SETTINGS)
    corr_s = _series(corr)
    prev_s = _series(prev if prev is not None else [math.nan] * len(corr))
    state = kwargs.pop("state", PairState())
    return engine.advance(
        PAIR, corr_s, prev_s, state, mode=kwargs.pop("mode", "backtest"), **kwargs
    )


def _day(position: int) -> date:
    return pd.bdate_range("2024-01-02", periods=position + 1)[-1].date()


def test_first_correlation_sets_the_regime_silently() -> None:
    """The first valid session sets the regime without an alert."""
    state, alerts = _run([0.3, 0.31, 0.29])
    assert state.regime == "linked"
    assert alerts == []


def test_regime_change_is_confirmed_after_three_sessions() -> None:
    """A new band must hold three consecutive sessions; the alert is on the third."""
    state, alerts = _run([0.3] * 5 + [0.6] * 5)
    assert [(a.kind, a.session, a.regime_from, a.regime_to) for a in alerts] == [
        (AlertKind.REGIME, _day(7), "linked", "coupled")
    ]
    assert state.regime == "coupled"


def test_hysteresis_keeps_the_regime_near_an_edge() -> None:
    """Crossing 0.5 by less than the hysteresis never leaves 'linked'."""
    state, alerts = _run([0.3] + [0.48, 0.52, 0.54, 0.53, 0.51, 0.54, 0.52] * 3)
    assert alerts == []
    assert state.regime == "linked"


def test_a_short_excursion_is_not_confirmed() -> None:
    """Two sessions in another band, then back: no alert, and the count starts over."""
    state, alerts = _run([0.3] * 3 + [0.6, 0.6] + [0.3] + [0.6, 0.6] + [0.3])
    assert alerts == []
    assert state.pending is None


def test_a_jump_two_bands_away_is_one_alert() -> None:
    """From decoupled straight to coupled is one regime alert, not two."""
    _, alerts = _run([0.0] * 3 + [0.7] * 3)
    assert [(a.regime_from, a.regime_to) for a in alerts if a.kind is AlertKind.REGIME] == [
        ("decoupled", "coupled")
    ]


def test_spike_needs_both_z_and_absolute_change() -> None:
    """A jump clearing the z test and the minimum change is a spike; a smaller one is not."""
    # z of 0.0 -> 0.70 over 30 sessions is about +3.2; 0.0 -> 0.60 is about +2.7.
    _, big = _run([0.0, 0.70], prev=[0.0, 0.0])
    _, small = _run([0.0, 0.60], prev=[0.0, 0.0])
    assert [a.kind for a in big] == [AlertKind.SPIKE]
    assert big[0].z == pytest.approx(math.atanh(0.70) / math.sqrt(2 / 27))
    assert small == []


def test_change_threshold_blocks_a_significant_but_small_move() -> None:
    """High z from near-perfect correlations but a change under min_change: no spike."""
    _, alerts = _run([0.90, 0.97], prev=[0.90, 0.90])
    assert [a for a in alerts if a.kind is AlertKind.SPIKE] == []


def test_decoupling_is_a_fall_by_the_same_test() -> None:
    """A sudden fall is a decoupling alert with a negative z."""
    _, alerts = _run([0.7, 0.0], prev=[0.7, 0.7])
    decouplings = [a for a in alerts if a.kind is AlertKind.DECOUPLING]
    assert len(decouplings) == 1
    assert decouplings[0].z < -3.0
    assert decouplings[0].change == pytest.approx(-0.7)


def test_cooldown_silences_a_persistent_spike() -> None:
    """A spike condition lasting 20 sessions alerts on day 0 and again once cooled down."""
    corr = [0.7] * 20
    _, alerts = _run(corr, prev=[0.0] * 20)
    spikes = [a.session for a in alerts if a.kind is AlertKind.SPIKE]
    assert spikes == [_day(0), _day(15)]


def test_a_larger_move_breaks_through_the_cooldown() -> None:
    """Within the cooldown, a move stronger by override_z in z still alerts."""
    corr = [0.70, 0.70, 0.90]
    _, alerts = _run(corr, prev=[0.0, 0.0, 0.0])
    assert [a.session for a in alerts if a.kind is AlertKind.SPIKE] == [_day(0), _day(2)]


def test_directions_cool_down_separately() -> None:
    """A decoupling right after a spike is not silenced by the spike's cooldown."""
    _, alerts = _run([0.7, 0.0], prev=[0.0, 0.7])
    assert [a.kind for a in alerts if a.kind is not AlertKind.REGIME] == [
        AlertKind.SPIKE,
        AlertKind.DECOUPLING,
    ]


def test_missing_correlation_is_skipped_without_changing_the_regime() -> None:
    """NaN sessions neither confirm nor reset a pending change."""
    state, alerts = _run([0.3, 0.6, math.nan, 0.6, math.nan, 0.6])
    assert [(a.regime_from, a.regime_to) for a in alerts] == [("linked", "coupled")]
    assert alerts[0].session == _day(5)
    assert state.last_session == _day(5)


def test_rerunning_the_same_sessions_creates_nothing() -> None:
    """Advancing a state that has seen every session yields no alert."""
    corr = [0.3] * 5 + [0.6] * 5
    state, first = _run(corr)
    again, second = _run(corr, state=state)
    assert first
    assert second == []
    assert again == state


def test_live_first_sight_warms_up_silently() -> None:
    """A pair never seen before produces no alert in live mode, only state."""
    state, alerts = _run([0.3] * 5 + [0.6] * 5, mode="live")
    assert alerts == []
    assert state.regime == "coupled"
    assert state.last_session == _day(9)


def test_live_single_new_session_alerts_normally() -> None:
    """The daily run with one new session reports what happened that session."""
    corr = [0.3] * 5 + [0.6] * 3
    warm, _ = _run(corr[:-1], mode="live")
    state, alerts = _run(corr, state=warm, mode="live")
    assert [(a.kind, a.session, a.catch_up) for a in alerts] == [(AlertKind.REGIME, _day(7), False)]
    assert state.regime == "coupled"


def test_live_catch_up_reports_the_net_change_once() -> None:
    """After downtime with several changes, one summary alert tells the net move."""
    corr = [0.3] * 5 + [0.6] * 5 + [0.0] * 5 + [0.6] * 5
    prev = [0.3] * 5 + [0.0] * 15  # spikes fire inside the gap, not on its last day
    warm, _ = _run(corr[:5], prev=prev[:5], mode="live")
    state, alerts = _run(corr, prev=prev, state=warm, mode="live")
    assert len(alerts) == 1
    summary = alerts[0]
    assert summary.catch_up
    assert (summary.regime_from, summary.regime_to) == ("linked", "coupled")
    assert summary.since == _day(4)
    assert summary.session == _day(19)
    assert summary.prev_corr == pytest.approx(0.3)
    assert summary.corr == pytest.approx(0.6)
    assert state.regime == "coupled"


def test_live_catch_up_with_no_net_change_is_silent() -> None:
    """Going to another regime and back while offline is not news."""
    corr = [0.3] * 5 + [0.6] * 5 + [0.3] * 5
    warm, _ = _run(corr[:5], mode="live")
    _, alerts = _run(corr, state=warm, mode="live")
    assert alerts == []


def test_live_catch_up_keeps_a_spike_on_the_latest_session() -> None:
    """A spike on the last caught-up session is current news and is kept."""
    corr = [0.0] * 5 + [0.0, 0.0, 0.7]
    prev = [0.0] * 8
    warm, _ = _run(corr[:5], prev=prev[:5], mode="live")
    _, alerts = _run(corr, prev=prev, state=warm, mode="live")
    assert [(a.kind, a.session) for a in alerts] == [(AlertKind.SPIKE, _day(7))]


def test_until_stops_at_the_given_session() -> None:
    """``until`` leaves later sessions for a later run."""
    state, _ = _run([0.3] * 10, until=_day(4))
    assert state.last_session == _day(4)


def test_alert_key_is_stable() -> None:
    """The key names rule, pair, window and session."""
    _, alerts = _run([0.3] * 5 + [0.6] * 5)
    assert alerts[0].key == f"regime:BTC~PSCT:30:{_day(7).isoformat()}"


def test_state_round_trips_through_json() -> None:
    """The persisted state reads back equal."""
    state, _ = _run([0.7, 0.3, 0.6], prev=[0.0, 0.7, 0.0])
    assert PairState.from_json(state.to_json()) == state


def test_same_input_same_output() -> None:
    """The engine is deterministic."""
    rng = np.random.default_rng(3)
    corr = list(np.clip(np.cumsum(rng.normal(0, 0.05, 300)), -0.9, 0.9))
    prev = [math.nan] * 30 + corr[:-30]
    assert _run(corr, prev=prev) == _run(corr, prev=prev)
