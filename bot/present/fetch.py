"""The ``corrbot fetch`` report: what the price cache holds per symbol, and what is wrong.

"fresh" only when a symbol's latest session is in; sessions still missing (asked for again
on every refresh) and known gaps (no longer asked for) are listed by date, because each
lowers the number of sessions the correlations of its windows use.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.core.models import SymbolStatus
from bot.present.numbers import counted
from bot.present.plain import text_table

__all__ = ["fetch_table"]


def fetch_table(statuses: Sequence[SymbolStatus]) -> str:
    """The ``corrbot fetch`` report: one line per symbol, then every finding."""
    rows = []
    for status in statuses:
        if status.expected_last_session is None:
            stale = "-"
        elif status.stale_sessions == 0:
            stale = "fresh"
        else:
            stale = f"{counted(status.stale_sessions, 'session')} behind"
        if status.pending:
            stale += f", {len(status.pending)} missing (fetched again)"
        if status.gaps:
            stale += f", {counted(len(status.gaps), 'known gap')}"
        rows.append(
            [
                status.asset.symbol,
                status.asset.kind.value,
                status.source,
                status.first_session.isoformat() if status.first_session else "-",
                status.last_session.isoformat() if status.last_session else "-",
                str(status.rows),
                stale,
                str(len(status.issues)),
            ]
        )
    text = text_table(
        ["symbol", "kind", "source", "first", "last", "rows", "staleness", "issues"],
        rows,
        right=(5, 7),
    )
    findings = [f"  {issue}" for status in statuses for issue in status.issues]
    for status in statuses:  # holes a "fresh" symbol still has: the n of its windows is lower
        if status.pending:
            findings.append(
                f"  {status.asset.symbol}: still missing, fetched again on every refresh: "
                + ", ".join(d.isoformat() for d in status.pending)
            )
        if status.gaps:
            findings.append(
                f"  {status.asset.symbol}: known gaps, no longer asked for: " + _dates(status.gaps)
            )
    if findings:
        text += "\n\nFindings:\n" + "\n".join(findings)
    return text


def _dates(days: Sequence[date], shown: int = 5) -> str:
    listed = ", ".join(d.isoformat() for d in days[-shown:])
    return listed if len(days) <= shown else f"{len(days)}, latest {listed}"
