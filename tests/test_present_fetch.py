"""The `corrbot fetch` report (bot.present.fetch), from hand-built symbol statuses.

How the statuses are gathered from a refreshed price cache is tested in test_market_data.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from bot.core.models import Asset, AssetKind, QualityIssue, QualityKind, SymbolStatus
from bot.present.fetch import fetch_table

TUESDAY = date(2024, 12, 3)
PSCT = Asset("PSCT", AssetKind.EQUITY)
BTC = Asset("BTC", AssetKind.CRYPTO, ccxt="BTC/USD")


def _status(asset: Asset = PSCT, **changes: Any) -> SymbolStatus:
    """``asset`` priced up to Tuesday as expected (fresh), unless ``changes`` say otherwise."""
    fields: dict[str, Any] = {
        "asset": asset,
        "source": "yahoo",
        "first_session": date(2024, 7, 24),
        "last_session": TUESDAY,
        "rows": 92,
        "expected_last_session": TUESDAY,
        "fetched_at": datetime(2024, 12, 3, 23, tzinfo=UTC),
    }
    return SymbolStatus(**(fields | changes))


def _cells(line: str) -> list[str]:
    """A table line's cells (columns are at least two spaces apart)."""
    return re.split(r"\s{2,}", line.strip())


def test_the_fetch_report_shows_holes_next_to_a_fresh_symbol() -> None:
    """A fresh symbol with holes: "fresh, 1 missing (fetched again), 1 known gap", then dates."""
    status = _status(pending=(date(2024, 11, 27),), gaps=(date(2024, 10, 22),))
    header, rule, row, *rest = fetch_table([status]).splitlines()
    assert _cells(header) == [
        "symbol",
        "kind",
        "source",
        "first",
        "last",
        "rows",
        "staleness",
        "issues",
    ]
    assert _cells(row) == [
        "PSCT",
        "equity",
        "yahoo",
        "2024-07-24",
        "2024-12-03",
        "92",
        "fresh, 1 missing (fetched again), 1 known gap",
        "0",
    ]
    assert len(header) == len(rule) == len(row)  # the issues column is right-aligned
    assert rest == [
        "",
        "Findings:",
        "  PSCT: still missing, fetched again on every refresh: 2024-11-27",
        "  PSCT: known gaps, no longer asked for: 2024-10-22",
    ]


def test_staleness_counts_the_sessions_behind() -> None:
    """One session behind is singular, more are plural; never expected is a dash."""
    rows = fetch_table(
        [
            _status(stale_sessions=1),
            _status(BTC, source="ccxt", stale_sessions=3),
            _status(expected_last_session=None, last_session=None, first_session=None, rows=0),
        ]
    ).splitlines()[2:]
    assert [_cells(row)[6] for row in rows] == ["1 session behind", "3 sessions behind", "-"]
    assert _cells(rows[2]) == ["PSCT", "equity", "yahoo", "-", "-", "0", "-", "0"]


def test_issues_are_counted_in_the_table_and_listed_under_findings() -> None:
    """Each quality issue is counted on its symbol's row and written out below."""
    issue = QualityIssue("BTC", QualityKind.OUTLIER, "a 31% day on 2024-11-12")
    text = fetch_table([_status(), _status(BTC, source="ccxt", issues=(issue,))])
    rows = text.splitlines()[2:4]
    assert [_cells(row)[-2:] for row in rows] == [["fresh", "0"], ["fresh", "1"]]
    assert text.endswith("\n\nFindings:\n  BTC: outlier: a 31% day on 2024-11-12")


def test_a_table_without_findings_has_no_findings_section() -> None:
    """Nothing wrong: the table alone."""
    assert "Findings" not in fetch_table([_status(), _status(BTC, source="ccxt")])


def test_many_known_gaps_show_their_count_and_the_latest_five() -> None:
    """Seven gaps: "7, latest" and the five most recent dates, oldest of them first."""
    gaps = tuple(date(2024, month, 1) for month in range(1, 8))
    text = fetch_table([_status(gaps=gaps)])
    assert text.endswith(
        "  PSCT: known gaps, no longer asked for: 7, latest "
        "2024-03-01, 2024-04-01, 2024-05-01, 2024-06-01, 2024-07-01"
    )
    assert "fresh, 7 known gaps" in text
