"""What the message tests are built from: generated analytics, a hand-made snapshot, alerts.

Two worlds. Generated returns (:func:`led_returns`) where every crypto loads heavily on one
equity, turned into real :class:`Analytics` and a real :class:`Snapshot` by the core
(:func:`snapshot_of`); and a hand-made snapshot of fixed numbers (:func:`hand_made_snapshot`)
with alerts of every kind beside it (:data:`EVERY_KIND`), so a message's exact text can be
written down. Also the two oracles the message tests share: the interval checker (every
correlation a reader sees comes with its 95% interval) and :func:`visible` (what Telegram
would show of some HTML, asserting it would accept it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from typing import Any

import numpy as np
import pandas as pd

from bot.core.analytics import Analytics, compute_analytics
from bot.core.message import Message
from bot.core.models import Alert, AlertKind, Pair, QualityIssue
from bot.core.regimes import RegimeBands
from bot.core.snapshot import Comparison, PairReading, Snapshot, VolReading, build_snapshot
from bot.core.stats import fisher_interval, volatility_adjusted
from bot.core.store import StoredAlert

__all__ = [
    "BANDS",
    "BTC_PSCT",
    "CATCH_UP",
    "CORRS",
    "CRITICAL",
    "CRYPTO",
    "DECOUPLING",
    "EPISODE",
    "EQUITIES",
    "EVERY_KIND",
    "FOOTER",
    "HEADLINE",
    "LABELS",
    "LEADERS",
    "NASTY",
    "REGIME",
    "SESSION",
    "SESSIONS",
    "SETTLED",
    "SPIKE",
    "STORED_EPISODE",
    "TELEGRAM_TAGS",
    "USUAL",
    "VERSUS",
    "WINDOWS",
    "alert_with_intervals",
    "analytics_of",
    "assert_every_correlation_has_its_interval",
    "bare_correlations",
    "follow_up",
    "hand_made_snapshot",
    "leader_test",
    "led_returns",
    "snapshot_of",
    "stored_alert",
    "visible",
]

CRYPTO = ("BTC", "ETH")
EQUITIES = ("PSCT", "QQQ", "IWM")
WINDOWS = (30, 90)
HEADLINE = 30
SESSIONS = 320
BANDS = RegimeBands()
LABELS = {"PSCT": "US small-cap tech", "QQQ": "Nasdaq 100"}
BTC_PSCT = Pair("BTC", "PSCT")


# --------------------------------------------------------------------------- generated data


def led_returns(leader: str, *, seed: int = 17, blank_tail: int = 0) -> pd.DataFrame:
    """Independent equities; every crypto loads heavily on ``leader`` and lightly on the rest.

    ``blank_tail`` sessions at the end have no equity returns (crypto still trades).
    """
    rng = np.random.default_rng(seed)
    index = pd.DatetimeIndex(pd.bdate_range("2023-01-02", periods=SESSIONS), name="session")
    equities = {e: rng.normal(0.0, 0.015, SESSIONS) for e in EQUITIES}
    data: dict[str, np.ndarray] = {}
    for crypto in CRYPTO:
        data[crypto] = sum(
            (1.0 if e == leader else 0.25) * series for e, series in equities.items()
        ) + rng.normal(0.0, 0.008, SESSIONS)
    data.update(equities)
    frame = pd.DataFrame(data, index=index)
    frame.iloc[0] = np.nan
    if blank_tail:
        frame.iloc[-blank_tail:, [frame.columns.get_loc(e) for e in EQUITIES]] = np.nan
    return frame


def analytics_of(returns: pd.DataFrame) -> Analytics:
    """The core's analytics of ``returns``: both windows, a 20-session EWM half-life."""
    return compute_analytics(returns, CRYPTO, EQUITIES, WINDOWS, halflife=20.0)


def snapshot_of(
    analytics: Analytics,
    *,
    bands: RegimeBands = BANDS,
    regimes: Mapping[Pair, str | None] | None = None,
    issues: Sequence[QualityIssue] = (),
    at: date | None = None,
) -> Snapshot:
    """The core's snapshot of ``analytics`` (as of ``at``, or its last session); never None."""
    snapshot = build_snapshot(
        analytics,
        headline_window=HEADLINE,
        bands=bands,
        regimes=regimes or {},
        labels=LABELS,
        issues=issues,
        at=at,
    )
    assert snapshot is not None
    return snapshot


# --------------------------------------------------------------------------- a hand-made day

SESSION = date(2024, 6, 14)
EPISODE = "spike:BTC~PSCT:30:2024-06-03"  # the key of the alert that opened the episode
CORRS = {  # (crypto, equity): (30d, 90d)
    ("BTC", "PSCT"): (0.72, 0.55),
    ("BTC", "QQQ"): (0.41, 0.38),
    ("BTC", "IWM"): (-0.05, math.nan),
    ("ETH", "PSCT"): (0.66, 0.49),
    ("ETH", "QQQ"): (0.30, 0.33),
    ("ETH", "IWM"): (0.12, 0.10),
}
USUAL = {  # 30-session volatility and its median of the year
    "BTC": (0.85, 0.60),
    "ETH": (0.95, 0.75),
    "PSCT": (0.30, 0.25),
    "QQQ": (0.22, 0.20),
    "IWM": (0.26, 0.21),
}
CRITICAL = 2.0518  # Student t, 27 degrees of freedom
LEADERS = (
    Comparison("BTC", "PSCT", "QQQ", 0.72, 0.41, 2.5, CRITICAL, 30),
    Comparison("ETH", "PSCT", "QQQ", 0.66, 0.30, 2.9, CRITICAL, 30),
)
VERSUS = (
    Comparison("PSCT", "BTC", "ETH", 0.72, 0.66, 0.6, CRITICAL, 30),
    Comparison("QQQ", "BTC", "ETH", 0.41, 0.30, 0.9, CRITICAL, 30),
    Comparison("IWM", "ETH", "BTC", 0.12, -0.05, 1.1, CRITICAL, 30),
)
#: The footer of every alert of :data:`SESSION`.
FOOTER = "Data as of the 2024-06-14 NYSE close."


def hand_made_snapshot(
    vols: dict[str, tuple[float, float]] | None = None,
    labels: dict[str, str] | None = None,
    *,
    leaders: tuple[Comparison, ...] = LEADERS,
    versus: tuple[Comparison, ...] = VERSUS,
    sessions: dict[tuple[str, str, int], int] | None = None,
    corrs: dict[tuple[str, str], tuple[float, float]] | None = None,
) -> Snapshot:
    """A hand-made snapshot; overrides: ``vols`` (30d vol, median), ``corrs`` (30d, 90d)."""
    usual = USUAL | (vols or {})
    levels = CORRS | (corrs or {})
    readings = []
    for c in CRYPTO:
        for e in EQUITIES:
            for i, w in enumerate(WINDOWS):
                corr = levels[(c, e)][i]
                ratio = usual[e][0] / usual[e][1] if w == 30 else 1.0
                readings.append(
                    PairReading(
                        c,
                        e,
                        w,
                        corr,
                        0.2,
                        0.05,
                        -0.1,
                        0.5,
                        "linked" if w == 30 else None,
                        sessions=float((sessions or {}).get((c, e, w), w)),
                        rank_corr=corr - 0.04,
                        adjusted=volatility_adjusted(corr, ratio),
                        vol_ratio=ratio,
                    )
                )
    vol_readings = tuple(
        VolReading(s, w, usual[s][0] if w == 30 else 0.5, usual[s][1] if w == 30 else 0.5)
        for s in (*CRYPTO, *EQUITIES)
        for w in WINDOWS
    )
    return Snapshot(
        as_of=SESSION,
        headline_window=30,
        windows=WINDOWS,
        crypto=CRYPTO,
        equities=EQUITIES,
        readings=tuple(readings),
        vols=vol_readings,
        labels=LABELS if labels is None else labels,
        leaders=leaders,
        versus=versus,
    )


def leader_test(t: float, first: float = 0.72, second: float = 0.41) -> Comparison:
    """BTC's leader test, PSCT against QQQ, with Williams' statistic ``t``."""
    return Comparison("BTC", "PSCT", "QQQ", first, second, t, CRITICAL, 30)


def alert_with_intervals(
    kind: AlertKind, corr: float, prev: float, z: float, **kwargs: Any
) -> Alert:
    """An alert with the intervals the engine gives: 30 sessions now, 250 the year before."""
    lower, upper = fisher_interval(corr, 30)
    prev_lower, prev_upper = fisher_interval(prev, 250)
    fields: dict[str, Any] = {
        "lower": lower,
        "upper": upper,
        "prev_lower": prev_lower,
        "prev_upper": prev_upper,
        "direction": "down" if kind is AlertKind.DECOUPLING else "up",
    }
    return Alert(kind, BTC_PSCT, 30, SESSION, corr, prev, z, **(fields | kwargs))


def follow_up(alert: Alert) -> Alert:
    """``alert`` as a silent reply inside the episode opened on 2024-06-03."""
    return replace(alert, notify=False, episode=EPISODE)


SPIKE = alert_with_intervals(
    AlertKind.SPIKE, 0.72, 0.21, 3.25, regime_from="coupled", regime_to="coupled"
)
DECOUPLING = alert_with_intervals(
    AlertKind.DECOUPLING, 0.05, 0.48, -3.4, regime_from="linked", regime_to="linked"
)
REGIME = follow_up(
    alert_with_intervals(
        AlertKind.REGIME, 0.72, 0.45, 2.1, regime_from="linked", regime_to="coupled"
    )
)
SETTLED = follow_up(
    alert_with_intervals(
        AlertKind.SETTLED, 0.30, 0.62, 0.4, regime_from="linked", regime_to="linked"
    )
)
CATCH_UP = alert_with_intervals(
    AlertKind.SPIKE,
    0.72,
    0.41,
    3.4,
    regime_from="coupled",
    regime_to="coupled",
    catch_up=True,
    since=date(2024, 6, 3),
)
EVERY_KIND = {
    "spike": SPIKE,
    "decoupling": DECOUPLING,
    "further rise": follow_up(SPIKE),
    "regime": REGIME,
    "settled": SETTLED,
    "catch-up": CATCH_UP,
}


#: The episode :func:`stored_alert` follow-ups belong to: opened on 2024-08-01.
STORED_EPISODE = "spike:BTC~PSCT:30:2024-08-01"


def stored_alert(kind: AlertKind = AlertKind.REGIME, **extra: object) -> StoredAlert:
    """A stored BTC~PSCT alert of 2024-08-26 (a regime change by default), for the lists."""
    fields: dict[str, object] = {
        "kind": kind,
        "pair": Pair("BTC", "PSCT"),
        "window": 30,
        "session": date(2024, 8, 26),
        "corr": 0.59,
        "prev_corr": 0.34,
        "z": 3.14,
        "regime_from": "linked",
        "regime_to": "coupled",
        "lower": 0.31,
        "upper": 0.78,
        "prev_lower": 0.22,
        "prev_upper": 0.45,
    }
    fields.update(extra)
    return StoredAlert(1, Alert(**fields))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- intervals everywhere

_WITH_INTERVAL = re.compile(r"-?\d\.\d\d \((?:95%: )?-?\d\.\d\d to -?\d\.\d\d\)")
_INTERVAL_ONLY = re.compile(r"-?\d\.\d\d to -?\d\.\d\d")
_P_VALUE = re.compile(r"p[=<]\d\.\d+")
_TWO_DECIMALS = re.compile(r"(?<![\d.])-?\d\.\d\d(?![\d%x])")


def bare_correlations(text: str) -> list[str]:
    """Correlations (two decimals) left once every interval and p-value is taken out."""
    for pattern in (_WITH_INTERVAL, _INTERVAL_ONLY, _P_VALUE):
        text = pattern.sub("", text)
    return _TWO_DECIMALS.findall(text)


def assert_every_correlation_has_its_interval(message: Message) -> None:
    """No correlation of the message's text stands alone; every table column has its 95%."""
    texts = [message.title, message.lead, *(v for _, v in message.facts), *message.notes]
    for text in texts:
        assert bare_correlations(text) == [], text
    for table in message.tables:
        for column, header in enumerate(table.headers):
            if re.fullmatch(r"\d+d", header):
                assert table.headers[column + 1] == "95%", table
                for row in table.rows:
                    corr, interval = row[column], row[column + 1]
                    assert (corr == "n/a") == (interval == "n/a"), row
                    assert interval == "n/a" or _INTERVAL_ONLY.fullmatch(interval), row


# --------------------------------------------------------------------------- Telegram HTML

TELEGRAM_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "blockquote",
    "tg-spoiler",
    "span",
    "tg-emoji",
}
#: Everything HTML could choke on, in one string.
NASTY = "S&P <500> & -0.42 BTC~PSCT (x) &amp; </pre>"
_MARKUP = re.compile(r"</?([a-z][a-z-]*)(?:\s[^<>]*)?>|&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")


class _Balance(HTMLParser):
    """Records the visible text and fails on unknown, unclosed or crossed tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in TELEGRAM_TAGS, f"Telegram does not know <{tag}>"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack.pop() == tag, f"</{tag}> crosses another tag"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def visible(markup: str) -> str:
    """The text Telegram would show for ``markup``, asserting it would accept it.

    Telegram's own parser is not reachable offline, so this checks what Telegram checks:
    only its tags, balanced; no stray ``<``, ``>`` or ``&``; only the entities it knows.
    """
    for tag in re.findall(r"</?([a-zA-Z][\w-]*)", markup):
        assert tag in TELEGRAM_TAGS, f"Telegram does not know <{tag}>"
    stray = _MARKUP.sub("", markup)
    assert not set(stray) & set("<>&"), f"unescaped markup in {stray!r}"
    parser = _Balance()
    parser.feed(markup)
    parser.close()
    assert parser.stack == [], f"left open: {parser.stack}"
    return "".join(parser.text)
