"""The alert engine: rules, then episodes, on histories with known right answers."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bot.compose import alert_settings
from bot.config import Config
from bot.core.engine import AlertEngine, AlertSettings, PairScan, PairState
from bot.core.models import Alert, AlertKind, Pair

PAIR = Pair("BTC", "PSCT")
ENGINE = AlertEngine(AlertSettings())
ONSET = 400
#: 0.1, a coupling to 0.85, back to 0.1 (settles), a coupling again.
STORY = [0.1] * ONSET + [0.85] * 150 + [0.1] * 250 + [0.85] * 100


def returns(corr: Sequence[float], seed: int, paths: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian (crypto, equity) daily returns with the given per-session correlation."""
    rng = np.random.default_rng(seed)
    rho = np.asarray(corr, dtype=float)
    common = rng.standard_normal((paths, len(rho)))
    own = rng.standard_normal((paths, len(rho)))
    return 0.035 * (rho * common + np.sqrt(1 - rho**2) * own), 0.015 * common


def history(corr: Sequence[float], seed: int) -> tuple[pd.Series, pd.Series]:
    crypto, equity = returns(corr, seed)
    index = pd.bdate_range("2018-01-01", periods=len(corr))
    return pd.Series(crypto[0], index=index), pd.Series(equity[0], index=index)


def scanned(corr: Sequence[float] = STORY, seed: int = 2) -> PairScan:
    return ENGINE.scan(PAIR, *history(corr, seed))


def opening(scan: PairScan) -> int:
    """The position of the first event that opens an episode."""
    return next(e.position for e in scan.events if e.opens)


def told(alerts: list[Alert]) -> list[tuple[AlertKind, date, bool]]:
    return [(a.kind, a.session, a.notify) for a in alerts if a.kind is not AlertKind.REGIME]


# -- settings -----------------------------------------------------------------------------


def test_alert_settings_defaults_are_the_configured_defaults() -> None:
    """One source of defaults: AlertSettings() equals what the default config builds."""
    assert alert_settings(Config()) == AlertSettings()


def test_the_alert_window_and_variance_follow_the_shift_rule() -> None:
    """The headline window is the shift window; a lead-adjusted correlation has variance 2."""
    settings = AlertSettings()
    assert settings.window == settings.shift.window
    assert settings.variance == 1.0
    lead = AlertSettings(shift=dataclasses.replace(settings.shift, lead=True))
    assert lead.variance == 2.0


# -- first sight, walking, until ----------------------------------------------------------


def test_backtest_tells_the_coupling() -> None:
    """In a backtest the spike after the onset is pushed, with its numbers."""
    scan = scanned()
    _, alerts = ENGINE.advance(scan, PairState(), mode="backtest")
    first = next(a for a in alerts if a.notify)
    assert first.kind is AlertKind.SPIKE
    assert first.notify
    assert ONSET <= scan.sessions.index(first.session) < ONSET + 30
    assert first.corr > first.prev_corr
    assert first.lower < first.corr < first.upper
    assert first.z >= ENGINE.settings.shift.z


def test_live_first_sight_is_a_silent_warm_up() -> None:
    """A pair seen for the first time live tells nothing but remembers what happened.

    The state holds the last session and an untold episode.
    """
    scan = scanned([0.1] * ONSET + [0.85] * 60)
    state, alerts = ENGINE.advance(scan, PairState(), mode="live")
    assert alerts == []
    assert state.last_session == scan.sessions[-1]
    assert state.episode is not None
    assert not state.episode.told
    _, backtest = ENGINE.advance(scan, PairState(), mode="backtest")
    assert any(a.notify for a in backtest)


def test_told_false_walks_silently() -> None:
    """An explicit warm-up in a backtest tells nothing either."""
    scan = scanned([0.1] * ONSET + [0.85] * 60)
    state, alerts = ENGINE.advance(scan, PairState(), mode="backtest", told=False)
    assert alerts == []
    assert state.episode is not None
    assert not state.episode.told


def test_advance_walks_only_the_sessions_after_the_last_one_seen() -> None:
    """A state past the spike gets no spike; a state before it does."""
    scan = scanned()
    spike = opening(scan)
    after = PairState(last_session=scan.sessions[spike])
    before = PairState(last_session=scan.sessions[spike - 1])
    _, none = ENGINE.advance(scan, after, mode="backtest", until=scan.sessions[spike + 5])
    _, some = ENGINE.advance(scan, before, mode="backtest", until=scan.sessions[spike + 5])
    assert [a for a in none if a.kind is AlertKind.SPIKE] == []
    assert [a.session for a in some if a.kind is AlertKind.SPIKE] == [scan.sessions[spike]]


def test_rerunning_the_same_sessions_creates_nothing() -> None:
    """Advancing a state that has seen every session yields no alert and the same state."""
    scan = scanned()
    state, first = ENGINE.advance(scan, PairState(), mode="backtest")
    again, second = ENGINE.advance(scan, state, mode="backtest")
    assert first
    assert second == []
    assert again == state


def test_until_stops_there() -> None:
    """``until`` leaves later sessions, and their alerts, for a later run."""
    scan = scanned()
    spike = opening(scan)
    stop = scan.sessions[spike - 1]
    state, alerts = ENGINE.advance(scan, PairState(), mode="backtest", until=stop)
    assert state.last_session == stop
    assert all(a.session <= stop for a in alerts)
    assert not any(a.kind is AlertKind.SPIKE for a in alerts)
    _, rest = ENGINE.advance(scan, state, mode="backtest")
    assert rest[0].session > stop


def test_walking_in_steps_equals_walking_at_once_in_a_backtest() -> None:
    """A backtest in ten chunks tells exactly what one pass tells."""
    scan = scanned()
    _, whole = ENGINE.advance(scan, PairState(), mode="backtest")
    state, pieces = PairState(), []
    for end in range(99, len(scan.sessions), 100):
        state, alerts = ENGINE.advance(scan, state, mode="backtest", until=scan.sessions[end])
        pieces.extend(alerts)
    assert pieces == whole


def test_live_day_by_day_tells_each_session_as_it_comes() -> None:
    """Live, one session a day after a warm-up: the spike is pushed on its day."""
    scan = scanned([0.1] * ONSET + [0.85] * 60)
    spike = opening(scan)
    state, _ = ENGINE.advance(scan, PairState(), mode="live", until=scan.sessions[spike - 3])
    pushed: list[tuple[AlertKind, date, bool]] = []
    for day in scan.sessions[spike - 2 : spike + 3]:
        state, alerts = ENGINE.advance(scan, state, mode="live", until=day)
        pushed.extend((a.kind, a.session, a.catch_up) for a in alerts if a.notify)
    assert pushed == [(AlertKind.SPIKE, scan.sessions[spike], False)]


# -- state ---------------------------------------------------------------------------------


def test_pair_state_round_trips_through_json() -> None:
    """The persisted state reads back equal, an open episode included."""
    scan = scanned([0.1] * ONSET + [0.85] * 60)
    state, _ = ENGINE.advance(scan, PairState(), mode="backtest")
    assert state.episode is not None
    assert PairState.from_json(state.to_json()) == state
    assert PairState.from_json(PairState().to_json()) == PairState()


def test_a_warm_up_state_round_trips_through_json_still_untold() -> None:
    """A live warm-up's untold episode reads back untold: its follow-ups stay silent."""
    scan = scanned([0.1] * ONSET + [0.85] * 60)
    state, _ = ENGINE.advance(scan, PairState(), mode="live")
    assert state.episode is not None
    back = PairState.from_json(state.to_json())
    assert back == state
    assert back.episode is not None
    assert not back.episode.told


def test_an_old_format_state_is_accepted() -> None:
    """A state of the earlier engine keeps its last session; its other keys are ignored."""
    old = json.dumps(
        {
            "last_session": "2024-05-06",
            "regime": "linked",
            "pending": "coupled",
            "pending_count": 2,
            "cooldown": {"spike": "2024-04-30"},
            "last_z": 1.3,
        }
    )
    assert PairState.from_json(old) == PairState(last_session=date(2024, 5, 6))


# -- downtime -----------------------------------------------------------------------------


def test_after_downtime_one_catch_up_opening_is_told() -> None:
    """After downtime only the newest opening is pushed, as a catch-up.

    Many sessions at once, holding a settled coupling and a new one: one alert, marked
    catch_up since the last session seen.
    """
    scan = scanned()
    state, _ = ENGINE.advance(scan, PairState(), mode="live", until=scan.sessions[ONSET - 20])
    after, alerts = ENGINE.advance(scan, state, mode="live")
    [opening_alert] = alerts
    assert opening_alert.catch_up
    assert opening_alert.notify
    assert opening_alert.since == state.last_session
    assert opening_alert.kind is AlertKind.SPIKE
    assert after.episode is not None
    assert after.episode.key == opening_alert.key


def test_after_downtime_the_end_of_the_old_episode_is_told_once() -> None:
    """After downtime the end of the episode open before the gap is told once.

    Its settling (silent, in its episode) and the new opening, and nothing else.
    """
    scan = scanned()
    spike = opening(scan)
    state, _ = ENGINE.advance(scan, PairState(), mode="live", until=scan.sessions[spike - 1])
    state, alerts = ENGINE.advance(scan, state, mode="live", until=scan.sessions[spike])
    assert [a.kind for a in alerts if a.notify] == [AlertKind.SPIKE]
    old = state.episode
    assert old is not None
    assert old.told
    end, alerts = ENGINE.advance(scan, state, mode="live")
    catch_ups = [a for a in alerts if a.catch_up]
    endings = [a for a in alerts if not a.catch_up]
    assert len(catch_ups) == 1
    assert catch_ups[0].since == state.last_session
    assert [(a.kind, a.episode, a.notify) for a in endings] == [(AlertKind.SETTLED, old.key, False)]
    assert end.episode is not None
    assert end.episode.key == catch_ups[0].key


@pytest.mark.parametrize("seed", range(4))
def test_downtime_never_bursts(seed: int) -> None:
    """Whatever happened during downtime, at most one opening and one ending are told.

    The opening is marked catch_up since the last session seen.
    """
    scan = scanned(seed=seed)
    state, _ = ENGINE.advance(scan, PairState(), mode="live", until=scan.sessions[ONSET + 5])
    state, _ = ENGINE.advance(scan, state, mode="live", until=scan.sessions[ONSET + 60])
    _, alerts = ENGINE.advance(scan, state, mode="live")
    openings = [a for a in alerts if a.notify]
    assert len(openings) <= 1
    assert all(a.catch_up and a.since == state.last_session for a in openings)
    others = [a for a in alerts if not a.notify]
    assert len(others) <= 1
    assert all(a.kind is AlertKind.SETTLED and not a.catch_up for a in others)


# -- many paths, long histories ------------------------------------------------------------


def test_scans_over_several_paths_equal_scan_path_by_path() -> None:
    """Five histories in one vectorized pass equal five single scans."""
    crypto, equity = returns(STORY[:700], seed=6, paths=5)
    crypto[1, 300] = np.nan
    equity[3, 450:455] = np.nan
    index = pd.bdate_range("2018-01-01", periods=crypto.shape[1])
    sessions = tuple(index.date)
    together = ENGINE.scans(PAIR, sessions, crypto, equity)
    assert sum(len(s.events) for s in together) > 5
    for path, many in enumerate(together):
        one = ENGINE.scan(PAIR, pd.Series(crypto[path], index), pd.Series(equity[path], index))
        assert many.events == one.events
        assert many.sessions == one.sessions
        for name in (
            "corr",
            "lower",
            "upper",
            "base_corr",
            "base_lower",
            "base_upper",
            "z",
            "regime",
        ):
            np.testing.assert_allclose(
                getattr(many, name), getattr(one, name), rtol=1e-9, equal_nan=True, err_msg=name
            )


def test_scan_pairs_scans_every_pair_as_scan_does_one_at_a_time() -> None:
    """The pairs of a backtest go through the rules in one pass, each under its own name."""
    crypto, equity = returns(STORY[:700], seed=7, paths=2)
    index = pd.bdate_range("2018-01-01", periods=crypto.shape[1])
    frame = pd.DataFrame(
        {"BTC": crypto[0], "ETH": crypto[1], "PSCT": equity[0], "IWM": equity[1]}, index=index
    )
    pairs = [Pair("BTC", "PSCT"), Pair("ETH", "IWM"), Pair("BTC", "IWM")]
    together = ENGINE.scan_pairs(pairs, frame)
    assert [scan.pair for scan in together] == pairs
    for pair, many in zip(pairs, together, strict=True):
        one = ENGINE.scan(pair, frame[pair.crypto], frame[pair.equity])
        assert many.events == one.events
        np.testing.assert_allclose(many.z, one.z, rtol=1e-9, equal_nan=True)
        np.testing.assert_allclose(many.corr, one.corr, rtol=1e-9, equal_nan=True)


def test_a_long_noisy_history_pushes_at_most_once_per_episode() -> None:
    """On a correlation wandering for six years, one push per episode start.

    Every push opens its own episode, every follow-up replies to an episode pushed before
    it, and two pushes in a row while an episode is open go opposite ways.
    """
    rng = np.random.default_rng(21)
    walk = np.clip(0.3 + np.cumsum(rng.normal(0, 0.04, 1500)), -0.6, 0.9)
    scan = scanned(walk.tolist(), seed=21)
    _, alerts = ENGINE.advance(scan, PairState(), mode="backtest")
    pushes = [a for a in alerts if a.notify]
    assert len(pushes) >= 2
    assert len({a.key for a in pushes}) == len(pushes)
    assert all(
        a.episode == a.key and a.kind in (AlertKind.SPIKE, AlertKind.DECOUPLING) for a in pushes
    )
    seen: set[str] = set()
    direction, open_ = None, False
    for a in alerts:
        if a.notify:
            if open_:
                assert a.direction != direction
            seen.add(a.key)
            direction, open_ = a.direction, True
        else:
            assert a.episode in seen
            if a.kind is AlertKind.SETTLED:
                open_ = False


def test_follow_ups_inside_an_episode_compare_with_its_start() -> None:
    """A regime change or settling inside an episode quotes the opening's correlation."""
    scan = scanned()
    _, alerts = ENGINE.advance(scan, PairState(), mode="backtest")
    openings = {a.key: a for a in alerts if a.notify}
    follow_ups = [a for a in alerts if a.kind in (AlertKind.REGIME, AlertKind.SETTLED)]
    assert follow_ups
    for a in follow_ups:
        assert not a.notify
        assert a.episode is not None
        assert a.prev_corr == openings[a.episode].corr


def test_the_engine_is_deterministic() -> None:
    """Same history, same alerts."""
    assert ENGINE.advance(scanned(), PairState(), mode="backtest") == ENGINE.advance(
        scanned(), PairState(), mode="backtest"
    )


def test_alert_keys_name_rule_pair_window_and_session() -> None:
    """The key is stable: kind, pair, window, session."""
    scan = scanned()
    _, alerts = ENGINE.advance(scan, PairState(), mode="backtest")
    spike = next(a for a in alerts if a.kind is AlertKind.SPIKE)
    assert spike.key == f"spike:BTC~PSCT:30:{spike.session.isoformat()}"


def test_a_missing_return_on_the_firing_session_does_not_lose_the_spike() -> None:
    """The coupling is still pushed when one return is missing on the day it would fire."""
    crypto, equity = history([0.1] * ONSET + [0.85] * 100, seed=1)
    spike = opening(ENGINE.scan(PAIR, crypto, equity))
    crypto.iloc[spike] = np.nan
    _, alerts = ENGINE.advance(ENGINE.scan(PAIR, crypto, equity), PairState(), mode="backtest")
    assert any(a.kind is AlertKind.SPIKE and a.notify for a in alerts)


# -- re-opened sessions (revised or late prices) and late-starting series ---------------------


def test_a_reopened_state_resumes_before_the_revised_session() -> None:
    """A revision on session 410 moves the last session seen back to session 409."""
    scan = scanned()
    state, _ = ENGINE.advance(scan, PairState(), mode="backtest", until=scan.sessions[420])
    reopened = state.reopened(scan.sessions[410], scan.sessions)
    assert reopened.last_session == scan.sessions[409]


def test_a_reopened_state_forgets_an_episode_opened_on_the_revised_prices() -> None:
    """The spike's episode came from prices now revised: walking again re-decides it."""
    scan = scanned()
    spike = opening(scan)
    state, _ = ENGINE.advance(scan, PairState(), mode="backtest", until=scan.sessions[spike + 3])
    assert state.episode is not None
    reopened = state.reopened(scan.sessions[spike], scan.sessions)
    assert reopened.episode is None
    again, alerts = ENGINE.advance(scan, reopened, mode="backtest", until=state.last_session)
    assert again == state  # the same prices walked again give the same state and keys
    assert alerts[0].key == state.episode.key


def test_a_revision_after_the_last_session_seen_changes_nothing() -> None:
    """Sessions not walked yet will be walked anyway."""
    scan = scanned()
    state = PairState(last_session=scan.sessions[300])
    assert state.reopened(scan.sessions[301], scan.sessions) == state


def test_a_late_listed_pair_alerts_only_on_its_own_full_windows() -> None:
    """A crypto listed on session 100 has no alert correlation before session 129."""
    crypto, equity = returns([0.5] * 300, seed=4)
    crypto[:, :100] = np.nan
    corr, _ = ENGINE.correlation(crypto, equity, 30)
    assert np.isnan(corr[0, :129]).all()
    assert np.isfinite(corr[0, 129])
