"""The numbers around a pair that alerts and the ``/corr`` reply both show.

Which equity leads, Bitcoin against the altcoins and the pair against the other equities
and cryptos, each ranking backed by Williams' test of dependent correlations ("statistically
tied" unless it is significant); where the correlation sits against the regime bands; the
volatility beside it; sessions without a price. Kept apart so the two messages cannot drift.
"""

from __future__ import annotations

import math

from bot.core.message import Table
from bot.core.models import Pair
from bot.core.regimes import REGIMES, RegimeBands
from bot.core.snapshot import Comparison, PairReading, Snapshot
from bot.present.numbers import (
    display_name,
    fmt_corr,
    fmt_interval,
    fmt_p,
    fmt_vol,
    fmt_with_interval,
)

__all__ = [
    "against_cryptos",
    "against_equities",
    "comparison_text",
    "leader_fact",
    "missing_note",
    "past_edge",
    "versus_facts",
    "vol_line",
]


def _by_equity(snapshot: Snapshot, comparison: Comparison) -> bool:
    """Whether the shared leg is an equity (cryptos compared) rather than a crypto."""
    return comparison.shared not in snapshot.crypto


def _side(snapshot: Snapshot, comparison: Comparison, symbol: str, corr: float) -> str:
    """``BTC~PSCT 0.41 (0.07 to 0.67)``: one of the two correlations, with its interval."""
    shared = comparison.shared
    pair = Pair(symbol, shared) if _by_equity(snapshot, comparison) else Pair(shared, symbol)
    reading = snapshot.reading(pair, snapshot.headline_window)
    lower, upper = reading.interval if reading is not None else (math.nan, math.nan)
    return f"{pair} {fmt_with_interval(corr, lower, upper, short=True)}"


def comparison_text(snapshot: Snapshot, comparison: Comparison) -> str:
    """Two correlations sharing a leg and Williams' verdict on them, in one line.

    ``BTC~PSCT 0.41 (0.07 to 0.67) vs BTC~QQQ 0.38 (0.03 to 0.65): statistically tied
    (Williams' test p=0.62)``. Only a significant test names one ahead; an exact tie, a
    difference within noise and a test without enough sessions are all "statistically tied".
    """
    first = _side(snapshot, comparison, comparison.first, comparison.corr_first)
    second = _side(snapshot, comparison, comparison.second, comparison.corr_second)
    if math.isnan(comparison.t):
        verdict = "statistically tied (too few sessions for Williams' test)"
    elif comparison.significant:
        verdict = f"{comparison.first} ahead beyond noise (Williams' test {fmt_p(comparison.p)})"
    else:
        verdict = f"statistically tied (Williams' test {fmt_p(comparison.p)})"
    return f"{first} vs {second}: {verdict}"


def leader_fact(snapshot: Snapshot, crypto: str) -> tuple[str, str] | None:
    """Which equity ``crypto`` moves with most, named only when the test says so."""
    leader = snapshot.leader(crypto)
    if leader is None:
        return None
    text = comparison_text(snapshot, leader)
    if leader.significant:
        return "Leading equity", f"{display_name(leader.first, snapshot.labels)}, {text}"
    return "Leading equity", f"none, {text}"


def versus_facts(snapshot: Snapshot, equity: str) -> list[tuple[str, str]]:
    """The headline crypto against each altcoin on ``equity``, tested."""
    if not snapshot.crypto:
        return []
    headline = snapshot.crypto[0]
    facts = []
    for other in snapshot.crypto[1:]:
        comparison = snapshot.against(equity, other)
        if comparison is not None:
            facts.append((f"{headline} vs {other}", comparison_text(snapshot, comparison)))
    return facts


def past_edge(corr: float, regime: str | None, bands: RegimeBands) -> str:
    """``the correlation is already past the coupled edge, from 0.5``, or "" when in its band.

    Inside the hysteresis margin a correlation still belongs to ``regime``: nothing is said.
    """
    if regime not in REGIMES or math.isnan(corr) or abs(corr) > 1:
        return ""
    if bands.classify(corr, regime) == regime:
        return ""
    band = bands.plain(corr)
    low, high = bands.bounds(band)
    if REGIMES.index(band) > REGIMES.index(regime):
        where = f"{'from' if math.isinf(high) else 'above'} {low:g}"
    else:
        where = f"below {high:g}"
    return f"the correlation is already past the {band} edge, {where}"


def missing_note(reading: PairReading, window: int) -> str:
    """Why the interval is wider: sessions of the window that lack a price of either leg."""
    used = int(reading.sessions)
    return (
        f"{reading.missing} of the last {window} sessions lack a price for {reading.crypto} or "
        f"{reading.equity}: the correlation uses {used}, and its interval is wider."
    )


def vol_line(snapshot: Snapshot, pair: Pair, window: int) -> str:
    """Each leg's volatility beside its usual level, since correlation rises with it."""
    parts = []
    for symbol in (pair.crypto, pair.equity):
        reading = snapshot.vol(symbol, window)
        if reading is not None:
            parts.append(f"{symbol} {fmt_vol(reading.vol)} (usual {fmt_vol(reading.median_year)})")
    return ", ".join(parts) + " annualized" if parts else "n/a"


def against_equities(snapshot: Snapshot, crypto: str) -> Table:
    """``crypto`` against every equity over the headline window, each with its interval."""
    rows = [(equity, Pair(crypto, equity)) for equity in snapshot.equities]
    return _headline_table(snapshot, rows, f"{crypto} against each equity", "vs")


def against_cryptos(snapshot: Snapshot, equity: str) -> Table:
    """Every crypto against ``equity`` over the headline window, each with its interval."""
    rows = [(crypto, Pair(crypto, equity)) for crypto in snapshot.crypto]
    return _headline_table(snapshot, rows, f"Each crypto against {equity}", "crypto")


def _headline_table(
    snapshot: Snapshot, rows: list[tuple[str, Pair]], caption: str, first: str
) -> Table:
    """One row per pair: its headline-window correlation and 95% interval, ``n/a`` if none."""
    window = snapshot.headline_window
    cells = []
    for name, pair in rows:
        reading = snapshot.reading(pair, window)
        if reading is None:
            cells.append((name, "n/a", "n/a"))
        else:
            cells.append((name, fmt_corr(reading.corr), fmt_interval(*reading.interval)))
    return Table(caption, (first, f"{window}d", "95%"), tuple(cells), (1,))
