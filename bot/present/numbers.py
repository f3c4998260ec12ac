"""How numbers read: correlations, changes, z-scores, intervals, p-values, names.

One formatter per kind of number, shared by every message, table and chart label, so a
correlation reads ``0.62 (95%: 0.47 to 0.74)`` wherever it appears and never ``-0.00``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = [
    "ARROW",
    "VOL_NOTE_RATIO",
    "counted",
    "display_name",
    "fmt_change",
    "fmt_corr",
    "fmt_interval",
    "fmt_p",
    "fmt_vol",
    "fmt_with_interval",
    "fmt_z",
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


def counted(count: int, noun: str) -> str:
    """``1 known gap``, ``3 known gaps``: a count and its noun, plural unless exactly one."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
