"""The ``/corr`` reply (and the daily digest): one crypto against every equity and window.

Every correlation with its 95% interval over the sessions actually used, the regime, the
rank correlation and the volatility-adjusted figure, then which equity leads and how the
crypto compares with the others, ranked only where a test says so.
"""

from __future__ import annotations

import math

from bot.core.message import Message, Table
from bot.core.models import Pair
from bot.core.snapshot import PairReading, Snapshot
from bot.present.context import (
    leader_fact,
    missing_note,
    past_edge,
    versus_facts,
    vol_line,
)
from bot.present.numbers import (
    VOL_NOTE_RATIO,
    display_name,
    fmt_corr,
    fmt_interval,
    fmt_with_interval,
)

__all__ = ["snapshot_message"]


def snapshot_message(snapshot: Snapshot, crypto: str | None = None) -> Message:
    """The ``/corr`` reply: one crypto against every equity and window, with intervals and tests."""
    crypto = crypto or snapshot.crypto[0]
    window = snapshot.headline_window
    first = snapshot.equities[0]
    headline = snapshot.reading(Pair(crypto, first), window)
    if headline is None or math.isnan(headline.corr):
        lead = "Not enough history yet for a correlation."
    else:
        lead = (
            f"{crypto}~{first} over {window} sessions: "
            f"{fmt_with_interval(headline.corr, *headline.interval)}."
        )
    facts: list[tuple[str, str]] = []
    leader = leader_fact(snapshot, crypto)
    if leader is not None:
        facts.append(leader)
    facts.extend(versus_facts(snapshot, first))
    notes: list[str] = []
    if headline is not None and not math.isnan(headline.corr):
        name = f"{crypto}~{first}"
        rank = fmt_with_interval(headline.rank_corr, *headline.rank_interval)
        facts.append(("Rank (Spearman)", f"{name} {rank}"))
        if not math.isnan(headline.adjusted):
            adjusted = fmt_with_interval(headline.adjusted, *headline.adjusted_interval)
            facts.append(
                (
                    "At usual volatility",
                    f"{name} {adjusted}; {first} is {headline.vol_ratio:.1f}x as volatile "
                    "as usual (Forbes and Rigobon)",
                )
            )
        note = _volatility_note_plain(headline, display_name(first, snapshot.labels))
        if note:
            notes.append(note)
        if headline.missing:
            notes.append(missing_note(headline, window))
    notes.extend(_unconfirmed_notes(snapshot, crypto))
    facts.append(("Volatility", vol_line(snapshot, Pair(crypto, first), window)))
    windows = [window, *(w for w in snapshot.windows if w != window)]
    tables = tuple(_window_table(snapshot, crypto, w, regimes=w == window) for w in windows)
    return Message(
        title=f"{crypto} vs US equities, {window}-session correlation",
        lead=lead,
        facts=tuple(facts),
        tables=tables,
        footer=(
            f"Data as of the {snapshot.as_of.isoformat()} NYSE close; windows in sessions; "
            "every correlation with its 95% interval."
        ),
        notes=(*notes, *snapshot.warnings),
    )


def _unconfirmed_notes(snapshot: Snapshot, crypto: str) -> list[str]:
    """Each regime of the table that the correlation has left but not yet for long enough."""
    notes = []
    for equity in snapshot.equities:
        reading = snapshot.reading(Pair(crypto, equity), snapshot.headline_window)
        if reading is None:
            continue
        past = past_edge(reading.corr, reading.regime, snapshot.bands)
        if past:
            notes.append(
                f"{reading.pair} still reads {reading.regime}: {past}, not yet for the "
                "sessions in a row a band change needs."
            )
    return notes


def _window_table(snapshot: Snapshot, crypto: str, window: int, *, regimes: bool) -> Table:
    """Each equity's correlation with ``crypto`` over ``window`` sessions, and its interval."""
    rows = []
    for equity in snapshot.equities:
        reading = snapshot.reading(Pair(crypto, equity), window)
        if reading is None:
            cells = [equity, "n/a", "n/a"]
        else:
            cells = [equity, fmt_corr(reading.corr), fmt_interval(*reading.interval)]
        if regimes:
            cells.append((reading.regime or "n/a") if reading else "n/a")
        rows.append(tuple(cells))
    headers = ("vs", f"{window}d", "95%", *(("regime",) if regimes else ()))
    return Table(f"Last {window} sessions", headers, tuple(rows), (1,))


def _volatility_note_plain(reading: PairReading, equity: str) -> str:
    ratio = reading.vol_ratio
    if math.isnan(reading.adjusted) or math.isnan(ratio):
        return ""
    if 1 / VOL_NOTE_RATIO < ratio < VOL_NOTE_RATIO:
        return ""
    way = "lifts" if ratio > 1 else "lowers"
    return (
        f"{equity} is {ratio:.1f}x as volatile as usual, which {way} correlations (Forbes and "
        f"Rigobon 2002): at its usual volatility {reading.pair} would read "
        f"{fmt_with_interval(reading.adjusted, *reading.adjusted_interval)}."
    )
