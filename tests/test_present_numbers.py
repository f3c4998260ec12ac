"""How numbers read (bot.present.numbers): correlations, changes, z, volatility, p-values."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from bot.present.numbers import fmt_change, fmt_corr, fmt_p, fmt_vol, fmt_z


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-0.2, "-0.20"), (0.5, "0.50"), (1.0, "1.00"), (0.125, "0.12"), (-0.987, "-0.99")],
)
def test_fmt_corr(value: float, expected: str) -> None:
    """Correlations show two decimals, a minus sign only when negative."""
    assert fmt_corr(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(0.1, "+0.10"), (-0.1, "-0.10"), (0.0, "+0.00"), (0.514, "+0.51")]
)
def test_fmt_change(value: float, expected: str) -> None:
    """Changes are always signed, two decimals."""
    assert fmt_change(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3.25, "+3.2"), (-3.25, "-3.2"), (3.35, "+3.4"), (2.0, "+2.0"), (-0.04, "+0.0")],
)
def test_fmt_z(value: float, expected: str) -> None:
    """A z-score is signed, one decimal; a tiny negative never reads as "-0.0"."""
    assert fmt_z(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"), [(0.853, "85%"), (0.3, "30%"), (1.234, "123%"), (0.004, "0%")]
)
def test_fmt_vol(value: float, expected: str) -> None:
    """Volatility is a whole percentage."""
    assert fmt_vol(value) == expected


@pytest.mark.parametrize("formatter", [fmt_corr, fmt_change, fmt_z, fmt_vol])
def test_nan_formats_as_not_available(formatter: Callable[[float], str]) -> None:
    """Every formatter writes NaN as n/a."""
    assert formatter(math.nan) == "n/a"
    assert formatter(float("nan")) == "n/a"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.62, "p=0.62"),
        (0.049, "p=0.049"),
        (0.0502, "p=0.050"),
        (0.0042, "p=0.004"),
        (0.0004, "p<0.001"),
        (math.nan, "p n/a"),
    ],
)
def test_fmt_p(value: float, expected: str) -> None:
    """p-values: two decimals, three under 0.1, a bound under 0.001."""
    assert fmt_p(value) == expected
