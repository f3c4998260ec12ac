"""Regime bands and hysteresis."""

from __future__ import annotations

import math

import pytest

from bot.core.regimes import RegimeBands
from bot.core.rules.regime import RegimeSettings

BANDS = RegimeBands((-0.2, 0.2, 0.5), hysteresis=0.05)


@pytest.mark.parametrize(
    ("corr", "regime"),
    [
        (-0.5, "inverse"),
        (-0.2, "decoupled"),
        (0.0, "decoupled"),
        (0.2, "linked"),
        (0.49, "linked"),
        (0.5, "coupled"),
        (0.99, "coupled"),
    ],
)
def test_plain_bands(corr: float, regime: str) -> None:
    """Each edge belongs to the band above it."""
    assert BANDS.plain(corr) == regime


def test_leaving_a_band_needs_the_hysteresis_margin() -> None:
    """From linked, 0.54 stays linked and 0.55 is coupled; 0.16 stays linked, 0.15 is not."""
    assert BANDS.classify(0.54, "linked") == "linked"
    assert BANDS.classify(0.55, "coupled") == "coupled"
    assert BANDS.classify(0.55, "linked") == "coupled"
    assert BANDS.classify(0.16, "linked") == "linked"
    assert BANDS.classify(0.14, "linked") == "decoupled"


def test_without_a_current_regime_the_plain_band_applies() -> None:
    """Classification of a first reading ignores the hysteresis."""
    assert BANDS.classify(0.51, None) == "coupled"


def test_edges_must_ascend() -> None:
    """Edges out of order are rejected."""
    with pytest.raises(ValueError, match="ascending"):
        RegimeBands((0.5, 0.2, -0.2))


def test_the_regime_rule_uses_these_bands_by_default() -> None:
    """The rule's default bands are the bands documented here."""
    assert RegimeSettings().bands == BANDS


@pytest.mark.parametrize(
    ("regime", "bounds"),
    [
        ("inverse", (-math.inf, -0.2)),
        ("decoupled", (-0.2, 0.2)),
        ("linked", (0.2, 0.5)),
        ("coupled", (0.5, math.inf)),
    ],
)
def test_bounds_are_the_edges_around_each_band(regime: str, bounds: tuple[float, float]) -> None:
    """Each band runs from the edge below (inclusive) to the edge above (exclusive)."""
    assert BANDS.bounds(regime) == bounds


def test_the_outer_bands_have_no_outer_edge_to_leave_by() -> None:
    """Coupled stays coupled however high; inverse however low."""
    assert BANDS.classify(1.0, "coupled") == "coupled"
    assert BANDS.classify(-1.0, "inverse") == "inverse"
    assert BANDS.classify(-0.16, "inverse") == "inverse"
    assert BANDS.classify(-0.15, "inverse") == "decoupled"
