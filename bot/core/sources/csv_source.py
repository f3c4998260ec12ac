"""Daily closes from ``<csv_dir>/<ticker>.csv`` files (``date,close``, extra columns ignored).

This is how people replay real history without network access; the development data in
``../shared/market-data/`` uses this format. Files are read strictly: a malformed line is
reported with the file's path and line number instead of being skipped, because a silently
dropped row would shift every return after it.
"""

from __future__ import annotations

import asyncio
import csv
import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import ClassVar

import pandas as pd

from bot.core.calendar import TradingCalendar
from bot.core.clock import Clock
from bot.core.errors import DataError, PermanentDataError
from bot.core.models import Asset
from bot.core.sources.base import (
    FetchRequest,
    FetchResults,
    Observations,
    PriceSource,
    crypto_daily_close_times,
    equity_close_times,
    restrict_to_targets,
)

__all__ = ["CsvSource", "read_close_file"]


class CsvSource(PriceSource):
    """Serves each asset from ``<csv_dir>/<asset.ticker>.csv``; daily bars only."""

    name: ClassVar[str] = "csv"
    intraday: ClassVar[bool] = False

    def __init__(self, csv_dir: Path, calendar: TradingCalendar, *, clock: Clock) -> None:
        self._dir = csv_dir
        self._calendar = calendar
        self._clock = clock

    def path_for(self, asset: Asset) -> Path:
        """Where the file of ``asset`` is expected."""
        return self._dir / f"{asset.ticker}.csv"

    async def fetch(self, requests: Sequence[FetchRequest]) -> FetchResults:
        """Read every requested file off the event loop."""
        return await asyncio.to_thread(self._fetch_all, requests)

    def _fetch_all(self, requests: Sequence[FetchRequest]) -> dict[str, Observations | DataError]:
        results: dict[str, Observations | DataError] = {}
        for request in requests:
            try:
                results[request.asset.symbol] = self._fetch_one(request)
            except DataError as exc:
                results[request.asset.symbol] = exc
        return results

    def _fetch_one(self, request: FetchRequest) -> Observations:
        asset = request.asset
        path = self.path_for(asset)
        daily = read_close_file(path)
        days = pd.DatetimeIndex(daily.index)
        if asset.is_crypto:
            instants = crypto_daily_close_times(days)
            closes = pd.Series(daily.to_numpy(), index=instants)
        else:
            times = equity_close_times(days, self._calendar)
            closes = pd.Series(daily.reindex(times.index).to_numpy(), index=pd.DatetimeIndex(times))
        closes = closes[closes.index <= pd.Timestamp(self._clock())]
        return Observations(
            asset.symbol, restrict_to_targets(closes, request.targets), f"csv:{path.name}"
        )


def read_close_file(path: Path) -> pd.Series:
    """Parse one ``date,close`` file into closes indexed by date; strict, with line numbers."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise PermanentDataError(
            f"{path}: file not found (expected <csv_dir>/<ticker>.csv)"
        ) from None
    except OSError as exc:
        raise PermanentDataError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise PermanentDataError(f"{path}:1: empty file (expected a date,close header)")
        columns = [name.strip().lower() for name in header]
        if "date" not in columns or "close" not in columns:
            raise PermanentDataError(
                f"{path}:1: header must name 'date' and 'close' columns, got {','.join(header)}"
            )
        date_at, close_at = columns.index("date"), columns.index("close")
        days: list[date] = []
        closes: list[float] = []
        seen: dict[date, int] = {}
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            day, close = _parse_row(path, line, row, date_at, close_at)
            if day in seen:
                raise PermanentDataError(
                    f"{path}:{line}: date {day.isoformat()} repeats line {seen[day]}"
                )
            seen[day] = line
            days.append(day)
            closes.append(close)
    series = pd.Series(closes, index=pd.DatetimeIndex(days), dtype="float64", name=path.stem)
    return series.sort_index()


def _parse_row(
    path: Path, line: int, row: list[str], date_at: int, close_at: int
) -> tuple[date, float]:
    if len(row) <= max(date_at, close_at):
        raise PermanentDataError(
            f"{path}:{line}: expected at least {max(date_at, close_at) + 1} columns"
        )
    date_text, close_text = row[date_at].strip(), row[close_at].strip()
    try:
        day = date.fromisoformat(date_text[:10])
    except ValueError:
        raise PermanentDataError(
            f"{path}:{line}: date {date_text!r} is not an ISO date (YYYY-MM-DD)"
        ) from None
    if not close_text or close_text.lower() in {"nan", "null"}:
        return day, math.nan  # kept: the quality checks flag it, nothing is hidden
    try:
        return day, float(close_text)
    except ValueError:
        raise PermanentDataError(f"{path}:{line}: close {close_text!r} is not a number") from None
