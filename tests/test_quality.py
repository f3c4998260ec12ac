"""Quality checks flag stale, missing, broken and outsized data, and hide nothing."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from bot.core.models import QualityKind
from bot.core.quality import check_symbol, robust_outliers

SESSIONS = pd.bdate_range("2024-01-01", periods=300)


def _kinds(
    raw: pd.Series, present: pd.Series | None = None, expected_last: date | None = None
) -> set[QualityKind]:
    present = raw.notna() if present is None else present
    issues = check_symbol("X", raw, present, expected_last=expected_last, outlier_zscore=10.0)
    return {issue.kind for issue in issues}


def _walk(seed: int = 1) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(SESSIONS)))), index=SESSIONS)


def test_clean_history_has_no_findings() -> None:
    """A complete, positive, well-behaved series produces nothing."""
    raw = _walk()
    assert _kinds(raw, expected_last=SESSIONS[-1].date()) == set()


def test_missing_latest_session_is_stale_once_expected() -> None:
    """The latest expected session without a price makes the symbol stale."""
    raw = _walk()
    raw.iloc[-1] = np.nan
    assert QualityKind.STALE in _kinds(raw, expected_last=SESSIONS[-1].date())


def test_missing_latest_session_is_fine_before_it_is_expected() -> None:
    """Before the publication delay has passed, an absent latest close is not stale."""
    raw = _walk()
    raw.iloc[-1] = np.nan
    assert _kinds(raw, expected_last=SESSIONS[-2].date()) == set()


def test_interior_hole_is_missing_and_blocks_nothing() -> None:
    """A hole inside the history is flagged as missing, a warning."""
    raw = _walk()
    raw.iloc[100] = np.nan
    kinds = _kinds(raw, expected_last=SESSIONS[-1].date())
    assert kinds == {QualityKind.MISSING}
    assert not QualityKind.MISSING.blocks_alerts


def test_sessions_before_listing_are_not_gaps() -> None:
    """A coin listed mid-window has no gaps before its first price."""
    raw = _walk()
    raw.iloc[:50] = np.nan
    assert _kinds(raw, expected_last=SESSIONS[-1].date()) == set()


def test_non_positive_or_nan_close_is_a_bad_price() -> None:
    """A stored zero, negative or NaN close is broken data that blocks alerts."""
    raw = _walk()
    present = pd.Series(True, index=SESSIONS)
    raw.iloc[10] = -5.0
    raw.iloc[11] = np.nan
    kinds = _kinds(raw, present)
    assert QualityKind.BAD_PRICE in kinds
    assert QualityKind.BAD_PRICE.blocks_alerts


def test_outsized_return_is_flagged_as_outlier() -> None:
    """A jump far outside the trailing robust range is flagged, as a warning."""
    raw = _walk()
    raw.iloc[200:] *= 3.0
    assert QualityKind.OUTLIER in _kinds(raw)
    assert not QualityKind.OUTLIER.blocks_alerts


def test_outlier_yardstick_excludes_the_day_judged() -> None:
    """Only the jump itself is flagged, not its ordinary neighbours."""
    returns = np.log(_walk()).diff()
    returns.iloc[150] = 0.5
    flagged = robust_outliers(returns, 10.0)
    assert list(flagged[flagged].index) == [SESSIONS[150]]


def test_no_prices_at_all_is_stale() -> None:
    """A symbol with nothing cached is stale."""
    raw = pd.Series(np.nan, index=SESSIONS)
    assert _kinds(raw, pd.Series(False, index=SESSIONS)) == {QualityKind.STALE}


def _with_tick(position: int, factor: float = 30.0) -> pd.Series:
    """A walk whose close on ``position`` alone is ``factor`` times too high."""
    raw = _walk()
    raw.iloc[position] *= factor
    return raw


def _issue(raw: pd.Series, kind: QualityKind) -> tuple[date, ...] | None:
    issues = check_symbol("X", raw, raw.notna(), expected_last=None, outlier_zscore=10.0)
    found = [i for i in issues if i.kind is kind]
    return found[0].sessions if found else None


def test_a_tick_that_goes_straight_back_is_suspect_on_both_returns_it_touches() -> None:
    """A x30 close between two normal ones: both returns that read it are suspect, blocking."""
    raw = _with_tick(200)
    assert _issue(raw, QualityKind.SUSPECT) == (SESSIONS[200].date(), SESSIONS[201].date())
    assert _issue(raw, QualityKind.OUTLIER) is None
    assert QualityKind.SUSPECT.blocks_alerts


def test_an_outlier_on_the_latest_session_is_suspect_until_the_next_one() -> None:
    """Nothing confirms the last price yet: it blocks, whatever it turns out to be."""
    raw = _walk()
    raw.iloc[-1] *= 30.0
    assert _issue(raw, QualityKind.SUSPECT) == (SESSIONS[-1].date(),)


def test_a_move_the_next_session_keeps_is_a_confirmed_outlier_a_warning_only() -> None:
    """March 2020: the price fell and stayed down; a warning, never a block."""
    raw = _walk()
    raw.iloc[200:] /= 3.0
    assert _issue(raw, QualityKind.OUTLIER) == (SESSIONS[200].date(),)
    assert _issue(raw, QualityKind.SUSPECT) is None
