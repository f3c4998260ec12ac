"""Plain, immutable value objects shared by every layer of the core."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

__all__ = [
    "Alert",
    "AlertKind",
    "Asset",
    "AssetKind",
    "Direction",
    "Pair",
    "QualityIssue",
    "QualityKind",
    "SymbolStatus",
]


class AssetKind(enum.StrEnum):
    """Crypto trades around the clock; equities trade on NYSE sessions only."""

    CRYPTO = "crypto"
    EQUITY = "equity"


@dataclass(frozen=True, slots=True)
class Asset:
    """One instrument of the universe and how each data source names it.

    ``symbol`` is the name users see (BTC, PSCT). ``ccxt`` is the exchange market
    (``BTC/USD``); ``yahoo`` the Yahoo Finance ticker (``BTC-USD``, ``PSCT``).
    """

    symbol: str
    kind: AssetKind
    label: str = ""
    ccxt: str | None = None
    yahoo: str | None = None

    @property
    def ticker(self) -> str:
        """File and Yahoo name: the Yahoo ticker when known, else the symbol."""
        return self.yahoo or self.symbol

    @property
    def is_crypto(self) -> bool:
        """Whether the asset trades around the clock."""
        return self.kind is AssetKind.CRYPTO


class QualityKind(enum.StrEnum):
    """What the data layer found wrong; ``blocks_alerts`` says which findings are fatal."""

    STALE = "stale"  # the latest session should be available by now but is not
    MISSING = "missing"  # a session inside the history has no price
    BAD_PRICE = "bad_price"  # zero, negative or not-a-number close
    OUTLIER = "outlier"  # a return far outside the usual range, confirmed by the next session
    SUSPECT = "suspect"  # an outlying price not confirmed: the latest one, or a tick reverted
    FETCH_FAILED = "fetch_failed"  # the last refresh of this symbol failed

    @property
    def blocks_alerts(self) -> bool:
        """Stale, broken or suspect data must never produce an alert; real outliers and gaps may.

        An outlier the next session confirmed (the price stayed there: March 2020 was real)
        is a warning; one not confirmed yet, or reverted at once (a bad tick), is not data
        to alert on until it is corrected or leaves the span the rules read.
        """
        return self in {
            QualityKind.STALE,
            QualityKind.BAD_PRICE,
            QualityKind.FETCH_FAILED,
            QualityKind.SUSPECT,
        }


@dataclass(frozen=True, slots=True)
class QualityIssue:
    """One finding of the quality checks, attached to a symbol and the sessions it concerns."""

    symbol: str
    kind: QualityKind
    detail: str
    sessions: tuple[date, ...] = ()

    def __str__(self) -> str:
        return f"{self.symbol}: {self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class SymbolStatus:
    """What ``corrbot fetch`` and ``/status`` report for one symbol.

    ``pending`` are sessions inside the symbol's history without a price that every refresh
    still asks for (they may yet arrive); ``gaps`` those given up on, shown as known gaps.
    Either lowers the ``n`` of every window holding it: a "fresh" symbol can still have
    holes, so both are listed next to the staleness.
    """

    asset: Asset
    source: str
    first_session: date | None
    last_session: date | None
    rows: int
    expected_last_session: date | None
    fetched_at: datetime | None
    stale_sessions: int = 0
    issues: tuple[QualityIssue, ...] = field(default=())
    error: str | None = None
    pending: tuple[date, ...] = ()
    gaps: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True, order=True)
class Pair:
    """A crypto measured against an equity, written ``BTC~PSCT``."""

    crypto: str
    equity: str

    def __str__(self) -> str:
        return f"{self.crypto}~{self.equity}"

    @classmethod
    def parse(cls, text: str) -> Pair:
        """Read ``BTC~PSCT``; raises ``ValueError`` on anything else."""
        crypto, sep, equity = text.partition("~")
        if not sep or not crypto.strip() or not equity.strip() or "~" in equity:
            raise ValueError(f"{text!r} is not a pair such as BTC~PSCT")
        return cls(crypto.strip(), equity.strip())


class AlertKind(enum.StrEnum):
    """What happened to a pair's correlation."""

    SPIKE = "spike"  # a significant rise against the baseline (rule ``shift``, up)
    DECOUPLING = "decoupling"  # a significant fall against the baseline (``shift``, down)
    REGIME = "regime"  # the correlation moved to another band, inside an episode
    SETTLED = "settled"  # the change has run its course: the episode ends


Direction = Literal["up", "down"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert; ``key`` is its stable identity, so it is recorded at most once.

    ``corr`` is the correlation over ``window`` sessions with its 95% interval
    ``lower``..``upper``; ``prev_corr`` what it is compared with (the baseline before the
    window for a change, the correlation when the episode opened for a follow-up).
    ``notify`` is false for a follow-up inside an episode, which goes silently as a reply to
    the message that opened it (``episode``: that alert's key). ``catch_up`` marks the one
    summary sent after downtime instead of a burst of stale alerts; ``since`` is then the
    last session seen before the gap.
    """

    kind: AlertKind
    pair: Pair
    window: int
    session: date
    corr: float
    prev_corr: float
    z: float
    regime_from: str | None = None
    regime_to: str | None = None
    catch_up: bool = False
    since: date | None = None
    direction: Direction = "up"
    lower: float = math.nan
    upper: float = math.nan
    prev_lower: float = math.nan
    prev_upper: float = math.nan
    notify: bool = True
    episode: str | None = None

    @property
    def key(self) -> str:
        """Rule, pair, window and session date: the same event always has the same key."""
        return f"{self.kind.value}:{self.pair}:{self.window}:{self.session.isoformat()}"

    @property
    def change(self) -> float:
        """Correlation now minus before."""
        return self.corr - self.prev_corr

    @property
    def opens_episode(self) -> bool:
        """Whether this alert is the first message of its episode."""
        return self.episode is None or self.episode == self.key
