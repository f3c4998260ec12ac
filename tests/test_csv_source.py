"""The csv source: strict parsing with line numbers, and the right instants per asset kind."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from bot.core.calendar import nyse
from bot.core.errors import PermanentDataError
from bot.core.models import Asset, AssetKind
from bot.core.sources.base import FetchRequest, Observations
from bot.core.sources.csv_source import CsvSource, read_close_file

BTC = Asset("BTC", AssetKind.CRYPTO, yahoo="BTC-USD")
PSCT = Asset("PSCT", AssetKind.EQUITY)
NOW = datetime(2024, 12, 10, tzinfo=UTC)


def _source(folder: Path, now: datetime = NOW) -> CsvSource:
    return CsvSource(folder, nyse(), clock=lambda: now)


def _targets(*texts: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(t, tz="UTC") for t in texts])


async def test_equity_rows_land_on_session_closes(tmp_path: Path) -> None:
    """An equity's date D is observed at D's close, 13:00 New York on an early close."""
    (tmp_path / "PSCT.csv").write_text("date,close,volume\n2024-11-27,10,5\n2024-11-29,11,6\n")
    targets = _targets("2024-11-27 21:00", "2024-11-29 18:00")
    result = (await _source(tmp_path).fetch([FetchRequest(PSCT, targets)]))["PSCT"]
    assert isinstance(result, Observations)
    assert list(result.closes.index) == list(targets)
    assert result.closes.tolist() == [10.0, 11.0]
    assert result.origin == "csv:PSCT.csv"


async def test_crypto_rows_close_at_next_utc_midnight(tmp_path: Path) -> None:
    """A crypto daily row for D is the price at 00:00 UTC of D+1, file named by Yahoo ticker."""
    (tmp_path / "BTC-USD.csv").write_text("date,close\n2024-11-29,97000.5\n")
    targets = _targets("2024-11-30 00:00")
    result = (await _source(tmp_path).fetch([FetchRequest(BTC, targets)]))["BTC"]
    assert isinstance(result, Observations)
    assert result.closes.tolist() == [97000.5]


async def test_rows_after_now_are_dropped(tmp_path: Path) -> None:
    """A row for a day whose close has not happened yet is not used."""
    (tmp_path / "BTC-USD.csv").write_text("date,close\n2024-12-09,1\n2024-12-10,2\n")
    targets = _targets("2024-12-10 00:00", "2024-12-11 00:00")
    result = (await _source(tmp_path).fetch([FetchRequest(BTC, targets)]))["BTC"]
    assert isinstance(result, Observations)
    assert result.closes.tolist() == [1.0]


async def test_missing_file_is_a_permanent_error_for_that_symbol_only(tmp_path: Path) -> None:
    """A missing file fails its own symbol and spares the others."""
    (tmp_path / "PSCT.csv").write_text("date,close\n2024-11-27,10\n")
    results = await _source(tmp_path).fetch(
        [
            FetchRequest(BTC, _targets("2024-11-28 00:00")),
            FetchRequest(PSCT, _targets("2024-11-27 21:00")),
        ]
    )
    assert isinstance(results["BTC"], PermanentDataError)
    assert "BTC-USD.csv" in str(results["BTC"])
    assert isinstance(results["PSCT"], Observations)


@pytest.mark.parametrize(
    ("content", "where", "what"),
    [
        ("date,close\n2024-01-02,1\n2024-13-01,2\n", ":3:", "not an ISO date"),
        ("date,close\n2024-01-02,1\n2024-01-03,abc\n", ":3:", "not a number"),
        ("date,close\n2024-01-02,1\n2024-01-02,2\n", ":3:", "repeats line 2"),
        ("day,price\n2024-01-02,1\n", ":1:", "header must name 'date' and 'close'"),
        ("date,close\n2024-01-02\n", ":2:", "expected at least 2 columns"),
        ("", ":1:", "empty file"),
    ],
)
def test_malformed_file_names_path_and_line(
    tmp_path: Path, content: str, where: str, what: str
) -> None:
    """Every parse error carries the file's path and the offending line number."""
    path = tmp_path / "X.csv"
    path.write_text(content)
    with pytest.raises(PermanentDataError) as info:
        read_close_file(path)
    assert f"{path}{where}" in str(info.value)
    assert what in str(info.value)


def test_empty_close_is_kept_as_nan(tmp_path: Path) -> None:
    """An empty close is a hole for the quality checks, not a parse error."""
    path = tmp_path / "X.csv"
    path.write_text("date,close\n2024-01-02,\n2024-01-03,5\n")
    series = read_close_file(path)
    assert series.isna().tolist() == [True, False]


def test_unsorted_rows_are_sorted(tmp_path: Path) -> None:
    """Row order in the file does not matter."""
    path = tmp_path / "X.csv"
    path.write_text("Date,Close\n2024-01-03,2\n2024-01-02,1\n")
    assert read_close_file(path).tolist() == [1.0, 2.0]


SHARED = Path(__file__).resolve().parents[2] / "shared" / "market-data"


@pytest.mark.realdata
@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/market-data is not present")
def test_shared_market_data_parses() -> None:
    """Every file of the development data set parses under the strict reader."""
    for path in sorted(SHARED.glob("*.csv")):
        series = read_close_file(path)
        assert len(series) > 500
        assert (series > 0).all()
