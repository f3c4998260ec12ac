"""Episodes: one push when a change starts, silent replies while it lasts."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date

import pytest

from bot.core.episodes import Episode, follow
from bot.core.models import Alert, AlertKind, Direction, Pair

PAIR = Pair("BTC", "PSCT")


def alert(kind: AlertKind, day: int, direction: Direction = "up", corr: float = 0.6) -> Alert:
    return Alert(
        kind=kind,
        pair=PAIR,
        window=30,
        session=date(2024, 3, day),
        corr=corr,
        prev_corr=0.1,
        z=3.4 if direction == "up" else -3.4,
        direction=direction,
        lower=round(corr - 0.2, 6),
        upper=round(corr + 0.15, 6),
        prev_lower=0.0,
        prev_upper=0.2,
    )


SPIKE = alert(AlertKind.SPIKE, 4, corr=0.7)


def opened(told: bool = True) -> tuple[Episode, Alert]:
    episode, out = follow(None, SPIKE, opens=True, closes=False, told=told)
    assert episode is not None
    assert out is not None
    return episode, out


def test_an_opening_alert_notifies_and_opens_an_episode() -> None:
    """A spike with no episode open: it is pushed, and the episode remembers its start."""
    episode, out = opened()
    assert out.notify
    assert out.episode == SPIKE.key
    assert out.opens_episode
    assert episode == Episode(SPIKE.key, "up", date(2024, 3, 4), 0.7, 0.5, 0.85, told=True)


@pytest.mark.parametrize("kind", [AlertKind.REGIME, AlertKind.SETTLED])
def test_a_follow_up_is_silent_and_compared_with_the_episode_start(kind: AlertKind) -> None:
    """Regime and settled follow-ups are silent and compare with the episode's start."""
    episode, _ = opened()
    later = alert(kind, 12, corr=0.4)
    after, out = follow(episode, later, opens=False, closes=kind is AlertKind.SETTLED, told=True)
    assert out is not None
    assert not out.notify
    assert out.episode == SPIKE.key
    assert not out.opens_episode
    assert (out.prev_corr, out.prev_lower, out.prev_upper) == (0.7, 0.5, 0.85)
    assert out.corr == 0.4
    assert after == (None if kind is AlertKind.SETTLED else episode)


def test_a_further_change_the_same_way_is_a_silent_follow_up() -> None:
    """Another spike inside an up episode: silent, same episode, its own baseline kept."""
    episode, _ = opened()
    again = alert(AlertKind.SPIKE, 20, corr=0.85)
    after, out = follow(episode, again, opens=True, closes=False, told=True)
    assert after == episode
    assert out is not None
    assert not out.notify
    assert out.episode == SPIKE.key
    assert out.prev_corr == again.prev_corr


def test_settling_goes_the_way_the_change_went() -> None:
    """The end of a decoupling episode is told as direction down, whatever the rule said."""
    fall = alert(AlertKind.DECOUPLING, 4, "down", corr=0.0)
    episode, _ = follow(None, fall, opens=True, closes=False, told=True)
    end = alert(AlertKind.SETTLED, 28, "up", corr=0.1)
    after, out = follow(episode, end, opens=False, closes=True, told=True)
    assert after is None
    assert out is not None
    assert out.direction == "down"


def test_a_change_the_other_way_opens_a_new_episode_and_notifies() -> None:
    """A decoupling inside an up episode: a new episode, pushed."""
    episode, _ = opened()
    fall = alert(AlertKind.DECOUPLING, 25, "down", corr=0.1)
    after, out = follow(episode, fall, opens=True, closes=False, told=True)
    assert out is not None
    assert out.notify
    assert out.episode == fall.key
    assert after is not None
    assert (after.key, after.direction, after.opened) == (fall.key, "down", date(2024, 3, 25))


@pytest.mark.parametrize("kind", [AlertKind.REGIME, AlertKind.SETTLED])
def test_a_follow_up_with_no_episode_is_dropped(kind: AlertKind) -> None:
    """Nothing to reply to: nobody is told, and no episode appears."""
    after, out = follow(
        None, alert(kind, 9), opens=False, closes=kind is AlertKind.SETTLED, told=True
    )
    assert (after, out) == (None, None)


def test_follow_ups_of_a_warm_up_episode_are_not_told() -> None:
    """Follow-ups of an episode opened while warming up (told=False) are dropped.

    Its end still ends it.
    """
    episode, _ = opened(told=False)
    assert not episode.told
    after, out = follow(episode, alert(AlertKind.REGIME, 10), opens=False, closes=False, told=True)
    assert (after, out) == (episode, None)
    after, out = follow(episode, alert(AlertKind.SETTLED, 30), opens=False, closes=True, told=True)
    assert (after, out) == (None, None)


def test_a_change_the_other_way_after_a_warm_up_episode_is_told() -> None:
    """The warm-up only silences its own episode: a new one, opened live, is pushed."""
    episode, _ = opened(told=False)
    fall = alert(AlertKind.DECOUPLING, 25, "down")
    after, out = follow(episode, fall, opens=True, closes=False, told=True)
    assert out is not None
    assert out.notify
    assert after is not None
    assert after.told


def test_follow_keeps_the_rest_of_the_alert() -> None:
    """Only the episode fields and the comparison change; the session's numbers stay."""
    episode, _ = opened()
    regime = replace(alert(AlertKind.REGIME, 11), regime_from="linked", regime_to="coupled")
    _, out = follow(episode, regime, opens=False, closes=False, told=True)
    assert out is not None
    assert (out.session, out.corr, out.z, out.regime_from, out.regime_to) == (
        regime.session,
        regime.corr,
        regime.z,
        "linked",
        "coupled",
    )


@pytest.mark.parametrize(
    "episode",
    [
        Episode("spike:BTC~PSCT:30:2024-03-04", "up", date(2024, 3, 4), 0.7, 0.5, 0.85),
        Episode(
            "decoupling:BTC~PSCT:30:2024-03-04",
            "down",
            date(2024, 3, 4),
            math.nan,
            math.nan,
            math.nan,
            told=False,
        ),
    ],
)
def test_an_episode_round_trips_through_a_dict_and_json(episode: Episode) -> None:
    """to_dict / from_dict and to_json restore the episode, NaN included (as null)."""
    data = episode.to_dict()
    back = Episode.from_dict(json.loads(json.dumps(data)))
    assert back.to_dict() == data
    assert (back.key, back.direction, back.opened, back.told) == (
        episode.key,
        episode.direction,
        episode.opened,
        episode.told,
    )
    for name in ("corr", "lower", "upper"):
        a, b = getattr(back, name), getattr(episode, name)
        assert (math.isnan(a) and math.isnan(b)) or a == b
    assert Episode.from_dict(json.loads(episode.to_json())).to_dict() == data


def test_nan_is_stored_as_null() -> None:
    """The JSON form has no NaN (not valid JSON)."""
    episode = Episode("k", "up", date(2024, 1, 2), math.nan, 0.1, math.nan)
    text = episode.to_json()
    assert "NaN" not in text
    assert json.loads(text)["corr"] is None


def test_an_episode_from_an_older_state_is_told_by_default() -> None:
    """A stored episode without ``told`` was told."""
    data = Episode("k", "up", date(2024, 1, 2), 0.5, 0.3, 0.6).to_dict()
    del data["told"]
    assert Episode.from_dict(data).told
