"""Transport-neutral messages for alerts and snapshots, and their plain-text rendering.

An alert says what happened and why it matters in one line, then the numbers: correlation
now and before, change, z, window, regimes, the volatility context (correlation rises with
volatility, Forbes and Rigobon 2002), the pair against the other equities and cryptos, and
the session the data is as of. Renderers for the terminal (here) and Telegram HTML (in the
adapter) turn the same :class:`Message` into text, so numbers read the same everywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from bot.core.models import Alert, AlertKind, Pair
from bot.core.snapshot import Snapshot

__all__ = [
    "Message",
    "Table",
    "alert_message",
    "fmt_change",
    "fmt_corr",
    "fmt_vol",
    "fmt_z",
    "render_text",
    "snapshot_message",
    "table_lines",
]

ARROW = "→"


def _unsigned_zero(value: float, digits: int) -> float:
    """Round, turning -0.0 into 0.0 so nothing reads "-0.00"."""
    return round(value, digits) + 0.0


def fmt_corr(value: float) -> str:
    """A correlation level: two decimals, a minus sign when negative, ``n/a`` when unknown."""
    return "n/a" if math.isnan(value) else f"{_unsigned_zero(value, 2):.2f}"


def fmt_change(value: float) -> str:
    """A change of correlation, always signed."""
    return "n/a" if math.isnan(value) else f"{_unsigned_zero(value, 2):+.2f}"


def fmt_z(value: float) -> str:
    """A z-score, signed, one decimal."""
    return "n/a" if math.isnan(value) else f"{_unsigned_zero(value, 1):+.1f}"


def fmt_vol(value: float) -> str:
    """Annualized volatility as a whole percentage."""
    return "n/a" if math.isnan(value) else f"{value * 100:.0f}%"


@dataclass(frozen=True, slots=True)
class Table:
    """A small table; columns listed in ``right`` hold numbers and align right."""

    caption: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    right: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Message:
    """A title, a one-line lead (why it matters), labelled facts, tables and a footer."""

    title: str
    lead: str
    facts: tuple[tuple[str, str], ...] = ()
    tables: tuple[Table, ...] = ()
    footer: str = ""
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        """Serialize, so the outbox can hold a message until it is delivered."""
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Message:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(
            title=data["title"],
            lead=data["lead"],
            facts=tuple((label, value) for label, value in data["facts"]),
            tables=tuple(
                Table(
                    t["caption"],
                    tuple(t["headers"]),
                    tuple(tuple(row) for row in t["rows"]),
                    tuple(t["right"]),
                )
                for t in data["tables"]
            ),
            footer=data["footer"],
            notes=tuple(data["notes"]),
        )


def _name(symbol: str, labels: Mapping[str, str]) -> str:
    """``PSCT (US small-cap tech)``; a label with its own brackets follows a dash instead."""
    label = labels.get(symbol)
    if not label:
        return symbol
    return f"{symbol} - {label}" if "(" in label else f"{symbol} ({label})"


_MEANING = {
    "coupled": "{c} is trading as a tech proxy: shocks to {e} now reach crypto.",
    "linked": "{c} moves partly with {e}: tech news matters, but not alone.",
    "decoupled": "{c} is moving on its own: {e} explains little of it.",
    "inverse": "{c} is moving against {e}: a rare hedge-like pattern.",
}


def alert_message(alert: Alert, context: Snapshot | None) -> Message:
    """What a subscriber reads when ``alert`` fires; ``context`` is the snapshot that day."""
    labels = context.labels if context else {}
    pair, window = alert.pair, alert.window
    crypto, equity = pair.crypto, _name(pair.equity, labels)
    if alert.catch_up:
        title = (
            f"While the bot was offline, {pair} moved from {alert.regime_from} to {alert.regime_to}"
        )
        lead = _MEANING[alert.regime_to or "decoupled"].format(c=crypto, e=equity)
    elif alert.kind is AlertKind.REGIME:
        title = f"{pair} regime change: {alert.regime_from} {ARROW} {alert.regime_to}"
        lead = _MEANING[alert.regime_to or "decoupled"].format(c=crypto, e=equity)
    elif alert.kind is AlertKind.SPIKE:
        title = f"{pair} correlation spike"
        lead = f"{crypto} suddenly moves with {equity}: tech shocks now carry over to crypto."
    else:
        title = f"{pair} decoupling"
        lead = f"{crypto} has broken away from {equity}: its moves are its own again."
    before = (
        f"was {fmt_corr(alert.prev_corr)} on {alert.since.isoformat()}"
        if alert.catch_up and alert.since
        else f"was {fmt_corr(alert.prev_corr)} over the {window} sessions before"
    )
    regime = (
        f"{alert.regime_from} {ARROW} {alert.regime_to}"
        if alert.regime_from != alert.regime_to
        else f"{alert.regime_to} (unchanged)"
    )
    facts = [
        (f"Correlation ({window} sessions)", f"{fmt_corr(alert.corr)}, {before}"),
        ("Change", f"{fmt_change(alert.change)} (z {fmt_z(alert.z)})"),
        ("Regime", regime),
    ]
    tables: list[Table] = []
    notes: list[str] = []
    if context is not None:
        facts.append(("Volatility", _vol_line(context, pair, window)))
        if _vol_elevated(context, pair, window):
            notes.append("Volatility is elevated: correlations read higher in such times.")
        tables = [_against_equities(context, pair.crypto), _against_cryptos(context, pair.equity)]
    return Message(
        title=title,
        lead=lead,
        facts=tuple(facts),
        tables=tuple(t for t in tables if len(t.rows) > 1),
        footer=f"Data as of the {alert.session.isoformat()} NYSE close.",
        notes=tuple(notes),
    )


def snapshot_message(snapshot: Snapshot, crypto: str | None = None) -> Message:
    """The ``/corr`` reply: one crypto against every equity, each window, regime, leader."""
    crypto = crypto or snapshot.crypto[0]
    labels, window = snapshot.labels, snapshot.headline_window
    leader = snapshot.leader(crypto)
    first = snapshot.equities[0]
    if leader is None:
        lead = "Not enough history yet for a correlation."
    elif leader == first:
        lead = f"Most correlated with {_name(leader, labels)}: small-cap tech leads today."
    else:
        lead = (
            f"Most correlated with {_name(leader, labels)}, not {_name(first, labels)}: "
            "small-cap tech does not lead today."
        )
    headers = ("vs", *(f"{w}d" for w in snapshot.windows), "1w chg", "regime")
    rows = []
    for equity in snapshot.equities:
        pair = Pair(crypto, equity)
        cells = [equity]
        for w in snapshot.windows:
            reading = snapshot.reading(pair, w)
            cells.append(fmt_corr(reading.corr) if reading else "n/a")
        headline = snapshot.reading(pair, window)
        cells.append(fmt_change(headline.change_week) if headline else "n/a")
        cells.append((headline.regime or "n/a") if headline else "n/a")
        rows.append(tuple(cells))
    right = tuple(range(1, len(snapshot.windows) + 2))
    facts = [
        ("Volatility", _vol_line(snapshot, Pair(crypto, first), window)),
    ]
    return Message(
        title=f"{crypto} vs US equities, {window}-session correlation",
        lead=lead,
        facts=tuple(facts),
        tables=(Table("", headers, tuple(rows), right),),
        footer=f"Data as of the {snapshot.as_of.isoformat()} NYSE close; windows in sessions.",
        notes=snapshot.warnings,
    )


def _vol_line(snapshot: Snapshot, pair: Pair, window: int) -> str:
    parts = []
    for symbol in (pair.crypto, pair.equity):
        reading = snapshot.vol(symbol, window)
        if reading is not None:
            parts.append(f"{symbol} {fmt_vol(reading.vol)} (usual {fmt_vol(reading.median_year)})")
    return ", ".join(parts) + " annualized" if parts else "n/a"


def _vol_elevated(snapshot: Snapshot, pair: Pair, window: int) -> bool:
    readings = [snapshot.vol(s, window) for s in (pair.crypto, pair.equity)]
    return any(r is not None and r.elevated for r in readings)


def _against_equities(snapshot: Snapshot, crypto: str) -> Table:
    rows = []
    for equity in snapshot.equities:
        cells = [equity]
        for window in snapshot.windows:
            reading = snapshot.reading(Pair(crypto, equity), window)
            cells.append(fmt_corr(reading.corr) if reading else "n/a")
        rows.append(tuple(cells))
    headers = ("vs", *(f"{w}d" for w in snapshot.windows))
    right = tuple(range(1, len(snapshot.windows) + 1))
    return Table(f"{crypto} against each equity", headers, tuple(rows), right)


def _against_cryptos(snapshot: Snapshot, equity: str) -> Table:
    rows = []
    for crypto in snapshot.crypto:
        cells = [crypto]
        for window in snapshot.windows:
            reading = snapshot.reading(Pair(crypto, equity), window)
            cells.append(fmt_corr(reading.corr) if reading else "n/a")
        rows.append(tuple(cells))
    headers = ("crypto", *(f"{w}d" for w in snapshot.windows))
    right = tuple(range(1, len(snapshot.windows) + 1))
    return Table(f"Each crypto against {equity}", headers, tuple(rows), right)


def render_text(message: Message) -> str:
    """Plain text for a terminal: title, lead, facts, tables, notes, footer."""
    lines = [message.title, message.lead]
    if message.facts:
        lines.append("")
        width = max(len(label) for label, _ in message.facts)
        lines.extend(f"{label.ljust(width)}  {value}" for label, value in message.facts)
    for table in message.tables:
        lines.append("")
        if table.caption:
            lines.append(table.caption)
        lines.extend(table_lines(table))
    if message.notes:
        lines.append("")
        lines.extend(f"! {note}" for note in message.notes)
    if message.footer:
        lines.extend(["", message.footer])
    return "\n".join(lines)


def table_lines(table: Table) -> list[str]:
    """The table's header and rows padded into columns, numbers right-aligned.

    Shared by every renderer so a table reads the same in the terminal and in Telegram.
    """
    widths = [len(h) for h in table.headers]
    for row in table.rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in table.right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(table.headers), *(line(row) for row in table.rows)]
