"""Rule ``regime``: the band the correlation sits in, with hysteresis and confirmation."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bot.core.models import AlertKind
from bot.core.regimes import REGIMES, RegimeBands
from bot.core.rules.base import PairInputs
from bot.core.rules.regime import RegimeSettings, run, scan

SETTINGS = RegimeSettings(RegimeBands((-0.2, 0.2, 0.5), hysteresis=0.05), confirm_sessions=3)


def changes(
    corr: Sequence[float], settings: RegimeSettings = SETTINGS
) -> list[tuple[int, str | None, str | None]]:
    """(session, from, to) of every band change on one history."""
    series = np.array([corr], dtype=float)
    [events] = run(PairInputs(series, series, series), settings).events
    return [(e.position, e.regime_from, e.regime_to) for e in events]


def regimes(corr: Sequence[float]) -> list[str | None]:
    result = scan(np.array([corr], dtype=float), SETTINGS)
    return [REGIMES[i] if i >= 0 else None for i in result.regime[0].tolist()]


def test_the_first_reading_sets_the_band_silently() -> None:
    """No change is told for the first known session: there was nothing before it."""
    assert changes([math.nan, 0.3, 0.31, 0.29]) == []
    assert regimes([math.nan, 0.3, 0.31]) == [None, "linked", "linked"]


def test_a_change_is_told_on_the_confirm_sessions_th_session_in_the_new_band() -> None:
    """Three sessions in a row in 'coupled': the change is on the third."""
    assert changes([0.3] * 5 + [0.6] * 5) == [(7, "linked", "coupled")]


def test_a_shorter_stay_is_not_confirmed() -> None:
    """Two sessions in another band, then back, twice: no change, the count starts over."""
    assert changes([0.3] * 3 + [0.6, 0.6, 0.3, 0.6, 0.6, 0.3]) == []


def test_a_pending_change_that_switches_band_starts_its_count_over() -> None:
    """From linked: two sessions coupled, then decoupled: three in decoupled are needed."""
    assert changes([0.3] * 3 + [0.6, 0.6, 0.1, 0.1, 0.1]) == [(7, "linked", "decoupled")]
    assert changes([0.3] * 3 + [0.6, 0.6, 0.1, 0.1]) == []


def test_confirm_sessions_is_the_number_needed() -> None:
    """With confirm_sessions=1 the first session outside the band is the change."""
    eager = RegimeSettings(SETTINGS.bands, confirm_sessions=1)
    assert changes([0.3] * 3 + [0.6], eager) == [(3, "linked", "coupled")]
    patient = RegimeSettings(SETTINGS.bands, confirm_sessions=5)
    assert changes([0.3] * 3 + [0.6] * 4) == [(5, "linked", "coupled")]
    assert changes([0.3] * 3 + [0.6] * 4, patient) == []


def test_crossing_an_edge_by_less_than_the_hysteresis_keeps_the_band() -> None:
    """From linked, readings up to 0.549 (edge 0.5 + 0.05) or down to 0.151 stay linked."""
    assert changes([0.3] + [0.52, 0.54, 0.549, 0.53] * 5) == []
    assert changes([0.3] + [0.18, 0.16, 0.151] * 5) == []


def test_crossing_an_edge_by_the_hysteresis_changes_the_band() -> None:
    """0.56 held for three sessions leaves linked; 0.14 held for three leaves it downward."""
    assert changes([0.3] + [0.56] * 3) == [(3, "linked", "coupled")]
    assert changes([0.3] + [0.14] * 3) == [(3, "linked", "decoupled")]


def test_hysteresis_also_holds_on_the_way_back() -> None:
    """Once coupled, 0.47 (above 0.5 - 0.05) is still coupled."""
    assert changes([0.3] + [0.6] * 3 + [0.47] * 10) == [(3, "linked", "coupled")]


def test_a_jump_two_bands_away_is_one_change() -> None:
    """From decoupled straight to coupled is one change, not two, direction up."""
    series = np.array([[0.0] * 3 + [0.7] * 3])
    [events] = run(PairInputs(series, series, series), SETTINGS).events
    assert [(e.kind, e.regime_from, e.regime_to, e.direction, e.opens) for e in events] == [
        (AlertKind.REGIME, "decoupled", "coupled", "up", False)
    ]


def test_a_fall_is_direction_down() -> None:
    """Into inverse from linked: down."""
    series = np.array([[0.3] * 3 + [-0.5] * 3])
    [events] = run(PairInputs(series, series, series), SETTINGS).events
    assert [(e.regime_to, e.direction) for e in events] == [("inverse", "down")]


def test_missing_sessions_neither_confirm_nor_reset_a_pending_change() -> None:
    """NaN sessions are skipped: three readings in the new band, holes between, confirm it."""
    assert changes([0.3, 0.6, math.nan, 0.6, math.nan, 0.6]) == [(5, "linked", "coupled")]
    assert regimes([0.3, math.nan])[-1] == "linked"


def test_regime_changes_are_follow_ups_never_openings() -> None:
    """A band change never opens or closes an episode by itself."""
    rng = np.random.default_rng(5)
    series = np.clip(np.cumsum(rng.normal(0, 0.05, (1, 400)), axis=1), -0.95, 0.95)
    [events] = run(PairInputs(series, series, series), SETTINGS).events
    assert events
    assert not any(e.opens or e.closes for e in events)


def test_vectorized_equals_per_path() -> None:
    """Eight random-walk correlations at once give each path's bands and changes alone."""
    rng = np.random.default_rng(8)
    corr = np.clip(np.cumsum(rng.normal(0, 0.06, (8, 300)), axis=1), -0.95, 0.95)
    corr[1, 50:60] = np.nan
    corr[4, ::7] = np.nan
    together = run(PairInputs(corr, corr, corr), SETTINGS)
    assert sum(len(e) for e in together.events) > 8
    for path in range(8):
        one = corr[path : path + 1]
        alone = run(PairInputs(one, one, one), SETTINGS)
        assert together.events[path] == alone.events[0]
        np.testing.assert_array_equal(together.series["regime"][path], alone.series["regime"][0])


def test_the_rule_agrees_with_the_bands_when_confirmation_is_one_session() -> None:
    """With confirm_sessions=1 the rule follows RegimeBands.classify session by session."""
    rng = np.random.default_rng(12)
    corr = np.clip(np.cumsum(rng.normal(0, 0.05, 300)), -0.95, 0.95)
    eager = RegimeSettings(SETTINGS.bands, confirm_sessions=1)
    got = scan(corr[None, :], eager).regime[0]
    current: str | None = None
    for t, value in enumerate(corr.tolist()):
        current = SETTINGS.bands.classify(value, current)
        assert REGIMES[int(got[t])] == current
