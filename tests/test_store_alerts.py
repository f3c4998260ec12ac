"""Alerts as recorded: read back as they were, and the re-openings a run took into account."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair
from bot.core.store import Store
from tests.fakes.store_rows import priced, series, with_states

NOW = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)
PAIR = Pair("BTC", "PSCT")


def test_a_recorded_alert_keeps_its_interval_direction_and_episode(tmp_path: Path) -> None:
    """An episode's opening and its silent follow-up read back as they were recorded."""
    pair = Pair("BTC", "PSCT")
    opening = Alert(
        AlertKind.DECOUPLING,
        pair,
        30,
        date(2024, 8, 5),
        0.04,
        0.51,
        -3.6,
        "linked",
        "decoupled",
        catch_up=True,
        since=date(2024, 7, 26),
        direction="down",
        lower=-0.32,
        upper=0.39,
        prev_lower=0.42,
        prev_upper=0.59,
        notify=True,
        episode="decoupling:BTC~PSCT:30:2024-08-05",
    )
    follow_up = Alert(
        AlertKind.REGIME,
        pair,
        30,
        date(2024, 8, 9),
        -0.31,
        0.04,
        -4.0,
        "decoupled",
        "inverse",
        direction="down",
        lower=-0.6,
        upper=0.06,
        prev_lower=-0.32,
        prev_upper=0.39,
        notify=False,
        episode=opening.key,
    )
    payload = Message(title="t", lead="l", footer="f").to_json()
    with Store.open(tmp_path / "s.db") as store:
        recorded = store.record_check(
            [(opening, payload), (follow_up, payload)],
            window=30,
            states={},
            snapshot=None,
            now=NOW,
        )
        stored = store.alerts.recent(2)
        replies = {str(k): r for k, r in store.query("SELECT key, reply_to FROM outbound")}
    assert [s.alert for s in recorded] == [opening, follow_up]
    assert [s.alert for s in stored] == [follow_up, opening]
    assert replies == {opening.key: None, follow_up.key: opening.key}


def test_a_missing_interval_reads_back_as_not_a_number(tmp_path: Path) -> None:
    """An interval that could not be computed is stored empty, not as a made-up number."""
    alert = Alert(
        AlertKind.SPIKE, Pair("BTC", "PSCT"), 30, date(2024, 8, 5), 0.7, float("nan"), 3.2
    )
    payload = Message(title="t", lead="l", footer="f").to_json()
    with Store.open(tmp_path / "s.db") as store:
        store.record_check([(alert, payload)], window=30, states={}, snapshot=None, now=NOW)
        [row] = store.query("SELECT prev_corr, lower, upper, notify, episode FROM alerts")
        [stored] = store.alerts.recent(1)
    assert row == (None, None, None, 1, None)
    assert np.isnan(stored.alert.lower)
    assert np.isnan(stored.alert.prev_corr)


def test_recording_clears_the_reopening_it_applied_but_not_a_newer_one(tmp_path: Path) -> None:
    """A revision written between evaluating and recording is kept for the next run."""
    with Store.open(tmp_path / "s.db") as store:
        priced(store)
        with_states(store, PAIR)
        store.prices.upsert("PSCT", series(("2024-12-03T21:00", 13.0)), source="t", fetched_at=NOW)
        applied = store.alerts.reopenings(30)
        store.record_check([], window=30, states={}, snapshot=None, now=NOW, reopened=applied)
        assert store.alerts.reopenings(30) == {}
        store.prices.upsert("PSCT", series(("2024-12-03T21:00", 14.0)), source="t", fetched_at=NOW)
        store.prices.upsert("PSCT", series(("2024-12-02T21:00", 1.0)), source="t", fetched_at=NOW)
        store.record_check([], window=30, states={}, snapshot=None, now=NOW, reopened=applied)
        assert store.alerts.reopenings(30) == {PAIR: pd.Timestamp("2024-12-02T21:00", tz="UTC")}
