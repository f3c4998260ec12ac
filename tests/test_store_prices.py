"""The price cache: closes kept faithfully, gaps and fetch outcomes remembered, revisions found.

A close that revises a stored one, or fills a hole late, re-opens the engine states of the
pairs of its symbol from its instant; the ordinary new sessions, and history fetched from
before ``reopen_from``, re-open nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from bot.core.models import Pair
from bot.core.store import Store
from tests.fakes.store_rows import priced, series, with_states

NOW = datetime(2024, 12, 3, 22, 0, tzinfo=UTC)
PAIR = Pair("BTC", "PSCT")
OTHER = Pair("ETH", "QQQ")


def test_prices_round_trip(tmp_path: Path) -> None:
    """Closes come back at the same UTC instants with the same values."""
    closes = series(("2024-12-02T21:00", 100.5), ("2024-12-03T21:00", 101.25))
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert("BTC", closes, source="ccxt:kraken", fetched_at=NOW)
        loaded = store.prices.load("BTC")
    expected = closes.set_axis(closes.index.as_unit("ns"))  # the calendar's unit: cheap joins
    pd.testing.assert_series_equal(loaded, expected, check_names=False, check_freq=False)
    assert str(loaded.index.tz) == "UTC"


def test_revised_close_overwrites(tmp_path: Path) -> None:
    """Fetching a session again replaces its close (revisions win) and its source."""
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert(
            "PSCT", series(("2024-12-03T21:00", 50.0)), source="csv", fetched_at=NOW
        )
        store.prices.upsert(
            "PSCT", series(("2024-12-03T21:00", 50.5)), source="yfinance", fetched_at=NOW
        )
        assert store.prices.load("PSCT").tolist() == [50.5]
        assert store.prices.sources("PSCT") == ["yfinance"]


def test_not_a_number_is_kept_as_a_hole(tmp_path: Path) -> None:
    """A NaN close is stored (as NULL) so the quality checks can flag it."""
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert(
            "BTC", series(("2024-12-03T21:00", np.nan)), source="csv", fetched_at=NOW
        )
        loaded = store.prices.load("BTC")
    assert len(loaded) == 1
    assert np.isnan(loaded.iloc[0])


def test_load_since_filters_older_rows(tmp_path: Path) -> None:
    """Only observations at or after ``since`` are loaded."""
    closes = series(("2024-12-02T21:00", 1.0), ("2024-12-03T21:00", 2.0))
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert("BTC", closes, source="csv", fetched_at=NOW)
        assert store.prices.load("BTC", since=datetime(2024, 12, 3, tzinfo=UTC)).tolist() == [2.0]


def test_failed_fetch_keeps_last_success_time(tmp_path: Path) -> None:
    """A failure is recorded without forgetting when the symbol last refreshed fine."""
    later = datetime(2024, 12, 4, 22, 0, tzinfo=UTC)
    with Store.open(tmp_path / "s.db") as store:
        store.prices.record_fetch("BTC", source="ccxt", attempted_at=NOW, error=None)
        store.prices.record_fetch(
            "BTC", source="ccxt", attempted_at=later, error="all exchanges down"
        )
        record = store.prices.fetch_records()["BTC"]
    assert record.succeeded_at == pd.Timestamp(NOW)
    assert record.attempted_at == pd.Timestamp(later)
    assert record.error == "all exchanges down"


def test_prune_forgets_old_prices_and_gaps(tmp_path: Path) -> None:
    """Prices older than the kept window are removed."""
    closes = series(("2020-01-02T21:00", 1.0), ("2024-12-03T21:00", 2.0))
    with Store.open(tmp_path / "s.db") as store:
        store.prices.upsert("BTC", closes, source="csv", fetched_at=NOW)
        store.prices.record_gaps(
            "BTC", [pd.Timestamp("2020-01-03T21:00", tz="UTC")], checked_at=NOW
        )
        assert store.prices.prune_before("BTC", datetime(2024, 1, 1, tzinfo=UTC)) == 1
        assert store.prices.load("BTC").tolist() == [2.0]
        assert len(store.prices.known_gaps("BTC")) == 0


def test_a_price_written_for_a_known_gap_is_no_longer_a_gap(tmp_path: Path) -> None:
    """Late data for an instant given up on fills it, and it stops being a known gap."""
    with Store.open(tmp_path / "s.db") as store:
        gap = pd.Timestamp("2024-11-29T21:00", tz="UTC")
        store.prices.record_gaps("PSCT", [gap], checked_at=NOW)
        store.prices.upsert("PSCT", series(("2024-11-29T21:00", 9.0)), source="t", fetched_at=NOW)
        assert store.prices.known_gaps("PSCT").empty


# -- revised and late prices re-open the engine states of their pairs -------------------------


def test_a_revised_close_reopens_the_pairs_of_its_symbol_from_its_instant(tmp_path: Path) -> None:
    """PSCT's close of 2024-12-02 changes: BTC~PSCT re-opens there, ETH~QQQ is untouched."""
    with Store.open(tmp_path / "s.db") as store:
        priced(store)
        with_states(store, PAIR, OTHER)
        store.prices.upsert("PSCT", series(("2024-12-02T21:00", 12.5)), source="t", fetched_at=NOW)
        assert store.alerts.reopenings(30) == {PAIR: pd.Timestamp("2024-12-02T21:00", tz="UTC")}


def test_the_same_close_written_again_reopens_nothing(tmp_path: Path) -> None:
    """The overlap re-fetches the last sessions every day: unchanged closes are no revision."""
    with Store.open(tmp_path / "s.db") as store:
        priced(store)
        with_states(store, PAIR)
        priced(store)
        assert store.alerts.reopenings(30) == {}


def test_a_hole_filled_late_reopens_its_pairs(tmp_path: Path) -> None:
    """A price arriving for an instant before the latest stored one is late data: re-open."""
    with Store.open(tmp_path / "s.db") as store:
        priced(store)
        with_states(store, PAIR)
        store.prices.upsert("PSCT", series(("2024-11-29T21:00", 9.0)), source="t", fetched_at=NOW)
        assert store.alerts.reopenings(30) == {PAIR: pd.Timestamp("2024-11-29T21:00", tz="UTC")}


def test_a_new_latest_price_reopens_nothing(tmp_path: Path) -> None:
    """Prices after the latest stored one are the ordinary new sessions."""
    with Store.open(tmp_path / "s.db") as store:
        priced(store)
        with_states(store, PAIR)
        store.prices.upsert("PSCT", series(("2024-12-04T21:00", 9.0)), source="t", fetched_at=NOW)
        assert store.alerts.reopenings(30) == {}


def test_history_written_before_reopen_from_reopens_nothing(tmp_path: Path) -> None:
    """A kept window grown backwards fetches old history: no revision, no re-walk."""
    with Store.open(tmp_path / "s.db") as store:
        priced(store)
        with_states(store, PAIR)
        store.prices.upsert(
            "PSCT",
            series(("2024-11-29T21:00", 9.0), ("2024-12-02T21:00", 10.0)),
            source="t",
            fetched_at=NOW,
            reopen_from=pd.Timestamp("2024-12-02T21:00", tz="UTC"),
        )
        assert store.alerts.reopenings(30) == {}
