"""The message of an alert: what happened and why it matters in one line, then the numbers.

The correlation now and what it is compared with, the change test's verdict, the regime,
the rank correlation, the figure at the market's usual volatility (correlation rises with
volatility alone, Forbes and Rigobon 2002), the comparisons of :mod:`bot.present.context`
and the session the data is as of. A follow-up inside an episode says it is one and
compares with the episode's start; a catch-up after downtime says since when.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.core.message import Message, Table
from bot.core.models import Alert, AlertKind
from bot.core.regimes import RegimeBands
from bot.core.rules import regime as regime_rule
from bot.core.rules import shift as shift_rule
from bot.core.snapshot import Snapshot
from bot.core.stats import volatility_adjusted
from bot.core.store import StoredAlert
from bot.present.context import (
    against_cryptos,
    against_equities,
    leader_fact,
    missing_note,
    past_edge,
    versus_facts,
    vol_line,
)
from bot.present.markup import escape
from bot.present.numbers import (
    ARROW,
    VOL_NOTE_RATIO,
    display_name,
    fmt_change,
    fmt_interval,
    fmt_with_interval,
    fmt_z,
)

__all__ = ["alert_message", "alerts_list_html"]


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
        facts.append(("Volatility", vol_line(context, pair, window)))
        leader = leader_fact(context, pair.crypto)
        if leader is not None:
            facts.append(leader)
        facts.extend(versus_facts(context, pair.equity))
        tables = [against_equities(context, pair.crypto), against_cryptos(context, pair.equity)]
    if reading is not None and reading.missing:
        notes.append(missing_note(reading, window))
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
    past = past_edge(alert.corr, alert.regime_to, bands)
    return f"{text} ({past}; not yet confirmed)" if past else text


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


#: Between the parts of an /alerts line.
SEPARATOR = " · "


def alerts_list_html(alerts: Sequence[StoredAlert]) -> str:
    """The ``/alerts`` reply: one line per alert, in the order given (newest first)."""
    if not alerts:
        return "No alerts yet. They appear here once a pair's correlation moves."
    lines = ["<b>Recent alerts</b>", "<i>Correlations with their 95% intervals.</i>", ""]
    lines.extend(_alert_line(stored) for stored in alerts)
    return "\n".join(lines)


def _alert_line(stored: StoredAlert) -> str:
    """``2024-08-26 · BTC~PSCT · spike: 0.34 (0.20 to 0.46) → 0.59 (0.30 to 0.78), ...``.

    Every kind reads its own way; a silent follow-up inside an episode says it is one, and
    a catch-up after downtime since when. All of it escaped.
    """
    alert = stored.alert
    now = fmt_with_interval(alert.corr, alert.lower, alert.upper, short=True)
    was = fmt_with_interval(alert.prev_corr, alert.prev_lower, alert.prev_upper, short=True)
    follow_up = not alert.notify and not alert.opens_episode
    kind = f"{alert.kind.value} follow-up" if follow_up else alert.kind.value
    if alert.kind is AlertKind.REGIME:
        regimes = f"{alert.regime_from or 'n/a'} {ARROW} {alert.regime_to or 'n/a'}"
        what = f"{kind}: {regimes}, {now}, was {was}"
    elif alert.kind is AlertKind.SETTLED:
        start = " at the episode's start" if follow_up else ""
        what = f"{kind}: back in line, {now}, was {was}{start}"
    else:
        what = f"{kind}: {was} {ARROW} {now}, change {fmt_change(alert.change)}, z {fmt_z(alert.z)}"
    if alert.catch_up:
        since = f" since {alert.since.isoformat()}" if alert.since else ""
        what = f"catch-up{since}, {what}"
    when = alert.session.isoformat()
    return f"{escape(when)}{SEPARATOR}<b>{escape(str(alert.pair))}</b>{SEPARATOR}{escape(what)}"
