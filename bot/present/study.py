"""The JPMorgan study's claims (January 2025) weighed against today's numbers, for ``/about``.

The study is not repeated as fact: each claim (crypto moves with equities, most with
small-cap tech, more for Bitcoin than for altcoins) is tested against the latest snapshot
with the tests ``/corr`` uses, and said to be supported, contradicted or not settled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.config import Config
from bot.core.models import Pair
from bot.core.snapshot import Comparison, PairReading, Snapshot
from bot.present.context import (
    comparison_text,
)
from bot.present.markup import escape
from bot.present.numbers import (
    VOL_NOTE_RATIO,
    display_name,
    fmt_with_interval,
)

__all__ = ["Claim", "Verdict", "about_text", "study_evidence"]


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


def about_text(config: Config, snapshot: Snapshot | None = None) -> str:
    """The method, the study behind the bot and today's evidence on it, in plain words (HTML).

    The study's claims are not asserted: each is weighed against ``snapshot`` (the latest
    stored one) with the tests ``/corr`` uses, and said to be supported, contradicted or not
    settled. Without a snapshot yet, that is said plainly.
    """
    labels = config.labels
    equities = ", ".join(escape(display_name(e.symbol, labels)) for e in config.universe.equities)
    crypto = ", ".join(escape(c.symbol) for c in config.universe.crypto)
    window = config.analysis.headline_window
    shift = config.alerts.shift
    low, mid, high = (f"{edge:g}" for edge in config.alerts.regime.edges)
    if config.data.crypto_sampling == "equity_close":
        sampled = "at that same close"
    else:
        sampled = "at its daily close (00:00 UTC, 3 to 7 hours after the NYSE close)"
    method = (
        "<b>How corrbot measures the link</b>\n"
        f"Every NYSE trading day I take the closing prices of {equities}, and the price of "
        f"{crypto} {escape(sampled)}, then log returns from one session to the next (a "
        "weekend's crypto move lands on Monday). Every correlation I show comes with its 95% "
        "interval over the sessions it actually used.\n\n"
        f"I push an alert only when the co-movement over the last {window} sessions differs "
        f"from the {shift.baseline_sessions} sessions before beyond noise (|z| of "
        f"{shift.z:g} or more, a threshold calibrated on histories whose correlation never "
        "changes). What follows, the correlation reaching another band (inverse below "
        f"{low}, decoupled to {mid}, linked to {high}, coupled from {high}) or the change "
        "running its course, comes as a silent reply to that alert."
    )
    return "\n\n".join(
        [
            method,
            _study(config, snapshot),
            f"<i>Data: crypto from {escape(config.data.crypto_source)}, equities from "
            f"{escape(config.data.equity_source)}. Not investment advice.</i>",
        ]
    )


_VERDICT_MARK = {
    "supported": "evidence for",
    "contradicted": "evidence against",
    "not settled": "not settled",
}


def _study(config: Config, snapshot: Snapshot | None) -> str:
    """The study in two lines, then the live evidence for or against each of its claims."""
    window = config.analysis.headline_window
    intro = (
        "<b>The study, and what today's data says</b>\n"
        "In January 2025 JPMorgan's research team reported that crypto has moved with US "
        "equities since 2020, most with small-cap tech, more for Bitcoin than for altcoins, "
        "and most when tech is re-priced.\n"
        f"Over {window} sessions even a correlation near zero has a 95% interval of "
        f"±{math.tanh(1.96 / math.sqrt(window - 3)):.2f}, so I test each claim instead of "
        "repeating it (Williams' test for which of two correlations is higher)."
    )
    if snapshot is None:
        return (
            f"{intro}\n\nNo numbers yet: the evidence on each claim appears here after the "
            "first daily run."
        )
    lines = [f"{intro}\n\n<i>As of the {snapshot.as_of.isoformat()} NYSE close:</i>"]
    for claim in study_evidence(snapshot):
        verdict = escape(_VERDICT_MARK[claim.verdict])
        lines.append(f"\n<b>{escape(claim.claim)}</b>: {verdict}")
        lines.extend(f"- {escape(line)}" for line in claim.evidence)
    return "\n".join(lines)
