"""Transport-neutral messages for alerts and snapshots, and their plain-text rendering.

Every correlation a subscriber reads comes with its 95% interval (Fisher z over the sessions
actually used), and no ranking is stated without a test:

* an alert says what happened and why it matters in one line, then the numbers: the
  correlation now and what it is compared with, the change test's verdict, the regime, the
  rank correlation, the figure at the market's usual volatility (correlation rises with
  volatility alone, Forbes and Rigobon 2002), which equity leads and Bitcoin against the
  altcoins (Williams' test of dependent correlations, "statistically tied" unless it is
  significant), the pair against the other equities and cryptos, and the session the data
  is as of. A follow-up inside an episode says it is one and compares with the episode's
  start;
* the ``/corr`` reply shows the same for one crypto against every equity and window;
* :func:`study_evidence` weighs the JPMorgan study's claims against the latest snapshot,
  for ``/about``.

Renderers for the terminal (here) and Telegram HTML (in the adapter) turn the same
:class:`Message` into text, so numbers read the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.core.message import Message, Table
from bot.core.models import Alert, AlertKind, Pair
from bot.core.regimes import REGIMES, RegimeBands
from bot.core.rules import regime as regime_rule
from bot.core.rules import shift as shift_rule
from bot.core.snapshot import Comparison, PairReading, Snapshot
from bot.core.stats import volatility_adjusted

__all__ = [
    "ARROW",
    "Claim",
    "Message",
    "Table",
    "Verdict",
    "alert_message",
    "comparison_text",
    "display_name",
    "fmt_change",
    "fmt_corr",
    "fmt_interval",
    "fmt_p",
    "fmt_vol",
    "fmt_with_interval",
    "fmt_z",
    "render_text",
    "snapshot_message",
    "study_evidence",
    "table_lines",
]

ARROW = "→"

#: An equity this many times as volatile as usual (or this many times calmer) gets a note.
VOL_NOTE_RATIO = 1.25


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


def fmt_interval(lower: float, upper: float) -> str:
    """A 95% interval, ``0.47 to 0.85``; ``n/a`` when there is none."""
    if math.isnan(lower) or math.isnan(upper):
        return "n/a"
    return f"{fmt_corr(lower)} to {fmt_corr(upper)}"


def fmt_with_interval(value: float, lower: float, upper: float, *, short: bool = False) -> str:
    """A correlation and its interval: ``0.71 (95%: 0.47 to 0.85)``, or ``0.71 (0.47 to 0.85)``.

    ``short`` leaves out "95%:" where the text has said what the brackets hold.
    """
    if math.isnan(value):
        return "n/a"
    if math.isnan(lower) or math.isnan(upper):
        return fmt_corr(value)
    return f"{fmt_corr(value)} ({'' if short else '95%: '}{fmt_interval(lower, upper)})"


def fmt_p(value: float) -> str:
    """A p-value: ``p=0.62``, ``p=0.051``, ``p<0.001``; ``p n/a`` when unknown.

    Three decimals under 0.1, so a value near the 5% line never reads as exactly on it.
    """
    if math.isnan(value):
        return "p n/a"
    if value < 0.001:
        return "p<0.001"
    if value < 0.1:
        return f"p={value:.3f}"
    return f"p={value:.2f}"


def display_name(symbol: str, labels: Mapping[str, str]) -> str:
    """``PSCT (US small-cap tech)``; a label with its own brackets follows a dash instead."""
    label = labels.get(symbol)
    if not label:
        return symbol
    return f"{symbol} - {label}" if "(" in label else f"{symbol} ({label})"


# --------------------------------------------------------------------------- two correlations


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


def _leader_fact(snapshot: Snapshot, crypto: str) -> tuple[str, str] | None:
    """Which equity ``crypto`` moves with most, named only when the test says so."""
    leader = snapshot.leader(crypto)
    if leader is None:
        return None
    text = comparison_text(snapshot, leader)
    if leader.significant:
        return "Leading equity", f"{display_name(leader.first, snapshot.labels)}, {text}"
    return "Leading equity", f"none, {text}"


def _versus_facts(snapshot: Snapshot, equity: str) -> list[tuple[str, str]]:
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


# --------------------------------------------------------------------------- alerts


def alert_message(alert: Alert, context: Snapshot | None) -> Message:
    """What a subscriber reads when ``alert`` fires; ``context`` is the snapshot that day."""
    labels = context.labels if context else {}
    pair, window = alert.pair, alert.window
    equity = display_name(pair.equity, labels)
    title, lead = _headline(alert, pair.crypto, equity)
    facts = [
        (
            f"Correlation ({window} sessions)",
            fmt_with_interval(alert.corr, alert.lower, alert.upper),
        ),
        ("Compared with", _compared(alert)),
        ("Test", _test_line(alert)),
        ("Regime", _regime_line(alert, context.bands if context else RegimeBands())),
    ]
    if _follows_up(alert):
        facts.append(("Episode", _episode_line(alert)))
    tables: list[Table] = []
    notes: list[str] = []
    reading = context.reading(pair, window) if context else None
    if context is not None:
        if reading is not None:
            facts.append(
                ("Rank (Spearman)", fmt_with_interval(reading.rank_corr, *reading.rank_interval))
            )
            adjusted = _adjusted(alert, reading.vol_ratio)
            if not math.isnan(adjusted[0]):
                facts.append(
                    (
                        "At usual volatility",
                        f"{fmt_with_interval(*adjusted)}; {pair.equity} is "
                        f"{reading.vol_ratio:.1f}x as volatile as usual (Forbes and Rigobon)",
                    )
                )
            note = _volatility_note(alert, reading.vol_ratio, adjusted, equity)
            if note:
                notes.append(note)
        facts.append(("Volatility", _vol_line(context, pair, window)))
        leader = _leader_fact(context, pair.crypto)
        if leader is not None:
            facts.append(leader)
        facts.extend(_versus_facts(context, pair.equity))
        tables = [_against_equities(context, pair.crypto), _against_cryptos(context, pair.equity)]
    if reading is not None and reading.missing:
        notes.append(_missing_note(reading, window))
    return Message(
        title=title,
        lead=lead,
        facts=tuple(facts),
        tables=tuple(t for t in tables if len(t.rows) > 1),
        footer=f"Data as of the {alert.session.isoformat()} NYSE close.",
        notes=tuple(notes),
    )


def _follows_up(alert: Alert) -> bool:
    """A silent follow-up inside an episode (a reply to the alert that opened it)."""
    return not alert.notify and not alert.opens_episode


def _episode_day(alert: Alert) -> str:
    """The session the episode opened, read from its first alert's key."""
    if alert.episode is None:
        return "n/a"
    return alert.episode.rsplit(":", 1)[-1]


def _headline(alert: Alert, crypto: str, equity: str) -> tuple[str, str]:
    """The title and the one line that says why it matters."""
    pair = alert.pair
    follow_up = "Follow-up: " if _follows_up(alert) else ""
    if alert.kind is AlertKind.REGIME:
        regime = alert.regime_to or "decoupled"
        lead = regime_rule.describe(regime, crypto, equity)
        if alert.catch_up:
            before = alert.regime_from or "n/a"
            return f"While the bot was offline, {pair} moved from {before} to {regime}", lead
        return f"{follow_up}{pair} now {regime} ({alert.regime_from} {ARROW} {regime})", lead
    verb, lead = shift_rule.describe(alert.kind, crypto, equity)
    if alert.kind is AlertKind.SETTLED:
        return f"{follow_up}{pair} is back in line with the past year", lead
    if alert.catch_up:
        return f"While the bot was offline, {crypto} started {_gerund(alert.kind)} {equity}", lead
    if follow_up:
        way = "rises" if alert.kind is AlertKind.SPIKE else "falls"
        return f"{follow_up}{pair} correlation {way} further", lead
    return f"{crypto} {verb} {pair.equity}", lead


def _gerund(kind: AlertKind) -> str:
    return "moving with" if kind is AlertKind.SPIKE else "breaking away from"


def _compared(alert: Alert) -> str:
    """What the correlation is compared with: the year before, or the episode's start."""
    before = fmt_with_interval(alert.prev_corr, alert.prev_lower, alert.prev_upper)
    if _follows_up(alert) and alert.kind in (AlertKind.REGIME, AlertKind.SETTLED):
        return f"{before} when the episode began on {_episode_day(alert)}"
    text = f"{before} over the year before"
    if alert.catch_up and alert.since:
        text += f" (last seen on {alert.since.isoformat()})"
    return text


def _episode_line(alert: Alert) -> str:
    day = _episode_day(alert)
    if alert.kind is AlertKind.SETTLED:
        return f"began on {day}; it ends here (sent silently, as a reply)"
    return f"began on {day}; this follow-up is sent silently, as a reply"


def _test_line(alert: Alert) -> str:
    """The change test's verdict in words a sceptic can check."""
    if math.isnan(alert.z):
        return "n/a"
    z = f"z {fmt_z(alert.z)}"
    if alert.kind is AlertKind.SETTLED:
        return f"{z}: co-movement back within noise of the year before"
    if alert.kind is AlertKind.REGIME:
        return f"{z} against the year before (a band change is not a test by itself)"
    side = "above" if alert.z > 0 else "below"
    return f"{z}: co-movement {side} the year before's, beyond noise"


def _regime_line(alert: Alert, bands: RegimeBands) -> str:
    """The confirmed regime, and where the correlation is when it has not caught up with it.

    A band change needs a few sessions in a row past the edge, so an alert can fire while
    the regime still reads "decoupled" and the correlation is 0.71: that is said, not hidden.
    """
    if alert.regime_from and alert.regime_to and alert.regime_from != alert.regime_to:
        text = f"{alert.regime_from} {ARROW} {alert.regime_to}"
    else:
        text = alert.regime_to or "n/a"
    past = _past_edge(alert.corr, alert.regime_to, bands)
    return f"{text} ({past}; not yet confirmed)" if past else text


def _past_edge(corr: float, regime: str | None, bands: RegimeBands) -> str:
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


def _adjusted(alert: Alert, vol_ratio: float) -> tuple[float, float, float]:
    """The alert's correlation and interval at the equity's usual volatility (or NaN).

    A lead-adjusted correlation (a sum of two) can leave [-1, 1]; it gets no adjustment.
    """
    if math.isnan(alert.corr) or abs(alert.corr) > 1:
        return math.nan, math.nan, math.nan
    return (
        volatility_adjusted(alert.corr, vol_ratio),
        volatility_adjusted(alert.lower, vol_ratio),
        volatility_adjusted(alert.upper, vol_ratio),
    )


def _volatility_note(
    alert: Alert, ratio: float, adjusted: tuple[float, float, float], equity: str
) -> str:
    """Forbes and Rigobon: whether the move survives the market's volatility.

    A rise that is no longer above the year before's interval once the equity's volatility
    is taken back to its usual level (or a fall no longer below it, in a calm market) says
    so, and says that much of the move may be volatility; otherwise a note only when
    volatility is far from usual.
    """
    value = adjusted[0]
    if math.isnan(value) or math.isnan(ratio):
        return ""
    shown = fmt_with_interval(*adjusted)
    unusual = ratio >= VOL_NOTE_RATIO or ratio <= 1 / VOL_NOTE_RATIO
    way = "lifts" if ratio > 1 else "lowers"
    start = f"{equity} is {ratio:.1f}x as volatile as usual, which {way} correlations"
    up = alert.kind is AlertKind.SPIKE
    edge = alert.prev_upper if up else alert.prev_lower
    if alert.kind not in (AlertKind.SPIKE, AlertKind.DECOUPLING) or math.isnan(edge):
        if not unusual:
            return ""
        return (
            f"{start} (Forbes and Rigobon 2002): at its usual volatility this one would read "
            f"{shown}."
        )
    before = fmt_interval(alert.prev_lower, alert.prev_upper)
    inflated = ratio > 1 if up else ratio < 1  # volatility pushes the way the move went
    removed = value <= edge if up else value >= edge
    if inflated and removed:
        side, move, cause, link = (
            ("above", "rise", "volatility", "closer")
            if up
            else ("below", "fall", "a calm market", "looser")
        )
        return (
            f"{start} (Forbes and Rigobon 2002): at its usual volatility this one would read "
            f"{shown}, not {side} the year before's interval ({before}). Much of this {move} "
            f"may be {cause}, not a {link} link."
        )
    if not unusual:
        return ""
    side = "above" if up else "below"
    return (
        f"{start} (Forbes and Rigobon 2002); at its usual volatility this one would read "
        f"{shown}, {'still ' if inflated else ''}{side} the year before's interval ({before})."
    )


def _missing_note(reading: PairReading, window: int) -> str:
    used = int(reading.sessions)
    return (
        f"{reading.missing} of the last {window} sessions lack a price for {reading.crypto} or "
        f"{reading.equity}: the correlation uses {used}, and its interval is wider."
    )


# --------------------------------------------------------------------------- /corr


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
    leader = _leader_fact(snapshot, crypto)
    if leader is not None:
        facts.append(leader)
    facts.extend(_versus_facts(snapshot, first))
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
            notes.append(_missing_note(headline, window))
    notes.extend(_unconfirmed_notes(snapshot, crypto))
    facts.append(("Volatility", _vol_line(snapshot, Pair(crypto, first), window)))
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
        past = _past_edge(reading.corr, reading.regime, snapshot.bands)
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


def _vol_line(snapshot: Snapshot, pair: Pair, window: int) -> str:
    parts = []
    for symbol in (pair.crypto, pair.equity):
        reading = snapshot.vol(symbol, window)
        if reading is not None:
            parts.append(f"{symbol} {fmt_vol(reading.vol)} (usual {fmt_vol(reading.median_year)})")
    return ", ".join(parts) + " annualized" if parts else "n/a"


def _against_equities(snapshot: Snapshot, crypto: str) -> Table:
    rows = []
    window = snapshot.headline_window
    for equity in snapshot.equities:
        reading = snapshot.reading(Pair(crypto, equity), window)
        if reading is None:
            rows.append((equity, "n/a", "n/a"))
        else:
            rows.append((equity, fmt_corr(reading.corr), fmt_interval(*reading.interval)))
    return Table(f"{crypto} against each equity", ("vs", f"{window}d", "95%"), tuple(rows), (1,))


def _against_cryptos(snapshot: Snapshot, equity: str) -> Table:
    rows = []
    window = snapshot.headline_window
    for crypto in snapshot.crypto:
        reading = snapshot.reading(Pair(crypto, equity), window)
        if reading is None:
            rows.append((crypto, "n/a", "n/a"))
        else:
            rows.append((crypto, fmt_corr(reading.corr), fmt_interval(*reading.interval)))
    headers = ("crypto", f"{window}d", "95%")
    return Table(f"Each crypto against {equity}", headers, tuple(rows), (1,))


# --------------------------------------------------------------------------- /about

Verdict = Literal["supported", "contradicted", "not settled"]


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim of the study, what today's snapshot says about it, and the numbers why."""

    claim: str
    verdict: Verdict
    evidence: tuple[str, ...]


def _large_cap(snapshot: Snapshot) -> str | None:
    """The large-cap tech benchmark: the equity labelled so, else QQQ if analysed."""
    for equity in snapshot.equities[1:]:
        if "large-cap" in snapshot.labels.get(equity, "").lower():
            return equity
    return "QQQ" if "QQQ" in snapshot.equities[1:] else None


def _ahead(comparisons: Sequence[Comparison], favoured: str) -> Verdict:
    """Supported when ``favoured`` is ahead in every test; contradicted when behind in one."""
    if any(c.significant and c.first != favoured for c in comparisons):
        return "contradicted"
    if comparisons and all(c.significant and c.first == favoured for c in comparisons):
        return "supported"
    return "not settled"


def study_evidence(snapshot: Snapshot) -> tuple[Claim, ...]:
    """The JPMorgan study's claims (January 2025) against the latest snapshot.

    The headline crypto stands for crypto and the headline equity for small-cap tech; each
    claim is weighed with the tests the snapshot carries: Williams' test for which
    correlation is higher, the 95% interval for the sign. A claim the data cannot tell
    either way is "not settled", never quietly taken as true.
    """
    if not snapshot.crypto or not snapshot.equities:
        return ()
    crypto, small = snapshot.crypto[0], snapshot.equities[0]
    claims = []

    most = tuple(c for other in snapshot.equities[1:] if (c := snapshot.rival(crypto, other)))
    claims.append(
        Claim(
            f"Crypto moves most with small-cap tech ({small})",
            _ahead(most, small),
            tuple(comparison_text(snapshot, c) for c in most)
            or ("no other equity to compare with",),
        )
    )

    large = _large_cap(snapshot)
    against_large = snapshot.rival(crypto, large) if large else None
    claims.append(
        Claim(
            "More than with large-cap tech" + (f" ({large})" if large else ""),
            _ahead((against_large,) if against_large else (), small),
            (comparison_text(snapshot, against_large),)
            if against_large
            else ("no large-cap tech benchmark is analysed",),
        )
    )

    versus = tuple(c for other in snapshot.crypto[1:] if (c := snapshot.against(small, other)))
    claims.append(
        Claim(
            f"Stronger for {crypto} than for the altcoins",
            _ahead(versus, crypto),
            tuple(comparison_text(snapshot, c) for c in versus) or ("no altcoin is analysed",),
        )
    )

    pair = Pair(crypto, small)
    now = snapshot.reading(pair, snapshot.headline_window)
    claims.extend(_level_claims(_longest(snapshot, pair), now, crypto, small))
    return tuple(claims)


def _longest(snapshot: Snapshot, pair: Pair) -> PairReading | None:
    """The reading of ``pair`` over the longest window that has one (a sign is a long-run claim)."""
    for window in sorted(snapshot.windows, reverse=True):
        reading = snapshot.reading(pair, window)
        if reading is not None and not math.isnan(reading.corr):
            return reading
    return snapshot.reading(pair, snapshot.headline_window)


def _level_claims(
    reading: PairReading | None, now: PairReading | None, crypto: str, small: str
) -> tuple[Claim, Claim]:
    """Positive since 2020; peaking when tech is re-priced: what one session can say of each.

    The sign is tested by the interval; a peak is a statement about history, which one
    session cannot settle: the evidence is whether tech is being re-priced now (the equity's
    volatility against its usual level) and how much of the correlation survives it.
    """
    positive, peaks = "Positive since 2020", "Highest when tech is re-priced"
    missing = ("not enough history yet for a correlation",)
    if reading is None or math.isnan(reading.corr):
        return Claim(positive, "not settled", missing), Claim(peaks, "not settled", missing)
    lower, upper = reading.interval
    pair = f"{crypto}~{small}"
    value = fmt_with_interval(reading.corr, lower, upper, short=True)
    verdict: Verdict = "not settled"
    sign = "the interval includes zero"
    if not math.isnan(lower) and lower > 0:
        verdict, sign = "supported", "above zero beyond noise"
    elif not math.isnan(upper) and upper < 0:
        verdict, sign = "contradicted", "below zero beyond noise"
    over = f"over {reading.window} sessions"
    sign_claim = Claim(positive, verdict, (f"Today {pair} {value} {over}: {sign}",))
    if now is None or math.isnan(now.corr):
        return sign_claim, Claim(peaks, "not settled", missing)
    evidence = []
    ratio = now.vol_ratio
    if not math.isnan(ratio) and not math.isnan(now.adjusted):
        state = (
            "a sign of tech being re-priced"
            if ratio >= VOL_NOTE_RATIO
            else "no sign of a re-pricing"
        )
        adjusted = fmt_with_interval(now.adjusted, *now.adjusted_interval, short=True)
        evidence.append(
            f"{small} is {ratio:.1f}x as volatile as usual ({state}); at its usual volatility "
            f"{pair} would read {adjusted}, by Forbes and Rigobon's correction"
        )
    evidence.append("one session cannot show a peak: /chart has the history")
    return sign_claim, Claim(peaks, "not settled", tuple(evidence))


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


class SubscriberWording:
    """The words subscribers read, as the core's :class:`~bot.core.message.Wording` seam wants."""

    def alert(self, alert: Alert, context: Snapshot | None) -> Message:
        """The alert's message, with the numbers of its session around it."""
        return alert_message(alert, context)

    def digest(self, snapshot: Snapshot) -> Message:
        """The daily digest: the ``/corr`` reply for the first crypto."""
        return snapshot_message(snapshot)
