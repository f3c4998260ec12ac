"""Rolling analytics checked against an independent numpy computation, window by window.

Every reference below is a plain Python loop over the sessions that slices each window and
calls ``np.corrcoef`` / ``np.std`` or spells the weighted moments out; none of it uses
pandas' rolling or exponentially weighted machinery, so an error there cannot hide.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from bot.core.analytics import (
    ANNUALIZATION,
    Analytics,
    compute_analytics,
    fisher_z,
    spike_statistic,
)
from bot.core.models import Pair

CRYPTO = ("BTC", "ETH")
EQUITIES = ("PSCT", "QQQ", "IWM")
WINDOWS = (30, 90)
HALFLIFE = 20.0
SESSIONS = 600
TOL = 1e-9


def _need(window: int, coverage: Fraction = Fraction(4, 5)) -> int:
    """Complete pairs a window needs, in exact arithmetic (no float rounding in ceil)."""
    return max(3, math.ceil(coverage * window))


def _ref_corr(x: np.ndarray, y: np.ndarray, window: int) -> np.ndarray:
    """Pearson correlation over each trailing window's pairwise-complete observations."""
    out = np.full(len(x), np.nan)
    need = _need(window)
    both = np.flatnonzero(~np.isnan(x) & ~np.isnan(y))
    start = int(both[0]) if len(both) else len(x)
    # no number before the first full window of the pair's own history
    for t in range(start + window - 1, len(x)):
        if np.isnan(x[t]) or np.isnan(y[t]):
            continue  # no correlation "as of" a session that lacks either return
        lo = t - window + 1
        xs, ys = x[lo : t + 1], y[lo : t + 1]
        ok = ~np.isnan(xs) & ~np.isnan(ys)
        if ok.sum() >= need:
            out[t] = np.corrcoef(xs[ok], ys[ok])[0, 1]
    return out


def _ref_vol(x: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation of each trailing window's present returns, annualized."""
    out = np.full(len(x), np.nan)
    need = _need(window)
    present = np.flatnonzero(~np.isnan(x))
    start = int(present[0]) if len(present) else len(x)
    for t in range(start + window - 1, len(x)):
        if np.isnan(x[t]):
            continue
        xs = x[t - window + 1 : t + 1]
        xs = xs[~np.isnan(xs)]
        if len(xs) >= need:
            out[t] = np.std(xs, ddof=1) * math.sqrt(252)
    return out


def _ref_ewm_corr(x: np.ndarray, y: np.ndarray, halflife: float, min_periods: int) -> np.ndarray:
    """Pandas' ``ewm(halflife, adjust=True, ignore_na=False).corr`` written out directly.

    On session ``t`` each pairwise-complete session ``j <= t`` weighs ``(1 - alpha)^(t - j)``
    with ``alpha = 1 - exp(-ln 2 / halflife)`` (missing sessions still age the weights).
    pandas' bias-corrected covariance multiplies the weighted covariance and both weighted
    variances by the same factor ``(sum w)^2 / ((sum w)^2 - sum w^2)``, which cancels in
    the correlation, so the plain weighted moments suffice.
    """
    alpha = 1.0 - math.exp(-math.log(2.0) / halflife)
    ok = ~np.isnan(x) & ~np.isnan(y)
    out = np.full(len(x), np.nan)
    for t in range(len(x)):
        j = np.flatnonzero(ok[: t + 1])
        if len(j) < min_periods:
            continue
        w = (1.0 - alpha) ** (t - j)
        xs, ys = x[j], y[j]
        mx, my = np.sum(w * xs) / np.sum(w), np.sum(w * ys) / np.sum(w)
        cov = np.sum(w * (xs - mx) * (ys - my))
        out[t] = cov / math.sqrt(np.sum(w * (xs - mx) ** 2) * np.sum(w * (ys - my) ** 2))
    return out


def _assert_same(got: pd.Series | np.ndarray, expected: np.ndarray) -> None:
    """Same NaN pattern, and equal to ``TOL`` wherever a number is expected."""
    got = np.asarray(got, dtype=float)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOL, equal_nan=True)


def _generated_returns(seed: int = 11) -> pd.DataFrame:
    """Factor-driven session returns with scattered gaps and a few longer ones."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2021-01-04", periods=SESSIONS)
    factor = rng.normal(0.0, 0.01, SESSIONS)
    betas = {"BTC": 1.4, "ETH": 0.9, "PSCT": 1.0, "QQQ": 0.7, "IWM": 0.4}
    data = {
        symbol: beta * factor + rng.normal(0.0, 0.012, SESSIONS) + 0.0003
        for symbol, beta in betas.items()
    }
    returns = pd.DataFrame(data, index=index)
    returns.iloc[0] = np.nan  # the first session has no return
    returns.iloc[100:106, returns.columns.get_loc("BTC")] = np.nan  # 6: 30d still computed
    returns.iloc[250:257, returns.columns.get_loc("PSCT")] = np.nan  # 7: 30d goes blank
    returns.iloc[400:420, returns.columns.get_loc("ETH")] = np.nan  # 20: 90d goes blank
    # Single gaps, kept off the rows the spot checks below look at.
    rows = rng.choice(np.r_[120:230, 300:380, 500:540], size=30, replace=False)
    for row, col in zip(rows, rng.integers(0, 5, 30), strict=True):
        returns.iloc[row, col] = np.nan
    return returns


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    return _generated_returns()


@pytest.fixture(scope="module")
def analytics(returns: pd.DataFrame) -> Analytics:
    return compute_analytics(returns, CRYPTO, EQUITIES, WINDOWS, halflife=HALFLIFE)


def _keys() -> list[tuple[str, str, int]]:
    return [(c, e, w) for c in CRYPTO for e in EQUITIES for w in WINDOWS]


@pytest.fixture(scope="module")
def expected_corr(returns: pd.DataFrame) -> dict[tuple[str, str, int], np.ndarray]:
    return {
        (c, e, w): _ref_corr(returns[c].to_numpy(), returns[e].to_numpy(), w) for c, e, w in _keys()
    }


def test_rolling_correlation_matches_numpy_for_every_pair_and_window(
    analytics: Analytics, expected_corr: dict[tuple[str, str, int], np.ndarray]
) -> None:
    """Every (crypto, equity, window) column equals np.corrcoef over each window to 1e-9."""
    assert sorted(analytics.corr.columns) == sorted(_keys())
    for key in _keys():
        expected = expected_corr[key]
        _assert_same(analytics.corr[key], expected)
        assert np.isfinite(expected).sum() > SESSIONS // 2  # the check is not vacuous


def test_generated_gaps_blank_some_windows_and_not_others(analytics: Analytics) -> None:
    """Six missing sessions leave a 30-session window computed; seven or twenty blank it."""
    sessions = analytics.sessions
    # BTC misses rows 100-105: the window ending on 106 (77-106) still has 24 complete pairs.
    assert not math.isnan(analytics.corr[("BTC", "IWM", 30)].iloc[106])
    # ...but a session lacking a return has no correlation as of itself.
    assert math.isnan(analytics.corr[("BTC", "IWM", 30)].iloc[105])
    # PSCT misses rows 250-256: every window holding all seven has at most 23.
    assert analytics.corr.loc[sessions[256:280], ("BTC", "PSCT", 30)].isna().all()
    # ETH misses rows 400-419: a 90-session window holding all twenty has at most 70 < 72.
    assert math.isnan(analytics.corr[("ETH", "QQQ", 90)].iloc[419])
    assert math.isnan(analytics.corr[("ETH", "QQQ", 90)].iloc[489])


def test_coverage_threshold_is_ceil_of_eighty_percent_of_pairwise_complete_sessions() -> None:
    """A 30-session window needs 24 sessions with both returns; a gap in either leg counts."""
    rng = np.random.default_rng(3)
    n, window = 200, 30
    x, y = rng.normal(size=n), rng.normal(size=n)
    x[60:66] = np.nan  # six gaps in x only: 24 complete pairs remain
    x[120:126] = np.nan  # six gaps in x ...
    y[130] = np.nan  # ... and one in y inside the same window: 23 remain
    frame = pd.DataFrame({"X": x, "Y": y}, index=pd.bdate_range("2020-01-06", periods=n))
    corr = compute_analytics(frame, ["X"], ["Y"], [window], halflife=HALFLIFE).series(
        Pair("X", "Y"), window
    )

    at_threshold = corr.iloc[70]  # window 41..70 holds the six gaps: exactly 24 pairs
    ok = ~np.isnan(x[41:71]) & ~np.isnan(y[41:71])
    assert ok.sum() == 24
    assert at_threshold == pytest.approx(
        np.corrcoef(x[41:71][ok], y[41:71][ok])[0, 1], abs=TOL, rel=0
    )
    assert math.isnan(corr.iloc[140])  # window 111..140: 6 + 1 gaps, 23 pairs
    assert not math.isnan(corr.iloc[141 + 29])  # past both gaps: full window again


def test_coverage_threshold_is_exact_for_a_non_default_coverage() -> None:
    """min_coverage 0.56 of 25 sessions is 14 pairs: a window with exactly 14 is computed."""
    rng = np.random.default_rng(21)
    n, window = 60, 25
    x, y = rng.normal(size=n), rng.normal(size=n)
    x[29:40] = np.nan  # the window ending on 40 (16..40) keeps 25 - 11 = 14 pairs
    assert _need(window, Fraction(56, 100)) == 14
    frame = pd.DataFrame({"X": x, "Y": y}, index=pd.bdate_range("2020-01-06", periods=n))
    result = compute_analytics(frame, ["X"], ["Y"], [window], halflife=HALFLIFE, min_coverage=0.56)
    ok = ~np.isnan(x[16:41])
    assert result.series(Pair("X", "Y"), window).iloc[40] == pytest.approx(
        np.corrcoef(x[16:41][ok], y[16:41][ok])[0, 1], abs=TOL, rel=0
    )


def test_first_correlation_needs_a_full_window() -> None:
    """No correlation is reported before the history holds one full window."""
    rng = np.random.default_rng(5)
    n, window = 120, 30
    x, y = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"X": x, "Y": y}, index=pd.bdate_range("2020-01-06", periods=n))
    corr = compute_analytics(frame, ["X"], ["Y"], [window], halflife=HALFLIFE).series(
        Pair("X", "Y"), window
    )
    first = corr.first_valid_index()
    assert first is not None
    assert int(corr.index.get_loc(first)) == window - 1  # 30th session, index 29
    assert corr.iloc[29] == pytest.approx(np.corrcoef(x[:30], y[:30])[0, 1], abs=TOL, rel=0)


def test_prev_corr_is_the_previous_non_overlapping_window(
    returns: pd.DataFrame,
    analytics: Analytics,
    expected_corr: dict[tuple[str, str, int], np.ndarray],
) -> None:
    """prev_corr on session t is the correlation of sessions t-2w+1 .. t-w."""
    for crypto, equity, window in _keys():
        expected = np.full(SESSIONS, np.nan)
        expected[window:] = expected_corr[(crypto, equity, window)][:-window]
        _assert_same(analytics.previous(Pair(crypto, equity), window), expected)
    # And spelled out once for a full, gap-free window: it ends right before the current one.
    t, w = 599, 30
    xs = returns["ETH"].to_numpy()[t - 2 * w + 1 : t - w + 1]
    ys = returns["QQQ"].to_numpy()[t - 2 * w + 1 : t - w + 1]
    assert not np.isnan(xs).any()
    assert not np.isnan(ys).any()
    assert analytics.previous(Pair("ETH", "QQQ"), w).iloc[t] == pytest.approx(
        np.corrcoef(xs, ys)[0, 1], abs=TOL, rel=0
    )


def test_fisher_z_equals_arctanh() -> None:
    """fisher_z is np.arctanh inside (-1, 1) and keeps the index."""
    rng = np.random.default_rng(8)
    values = rng.uniform(-0.999, 0.999, 500)
    index = pd.bdate_range("2020-01-06", periods=500)
    z = fisher_z(pd.Series(values, index=index))
    assert z.index.equals(index)
    np.testing.assert_allclose(z.to_numpy(), np.arctanh(values), rtol=0, atol=TOL)


def test_fisher_z_of_a_perfect_correlation_is_finite() -> None:
    """At r = +-1 the transform is clipped to stay finite and keeps the sign; NaN stays NaN."""
    z = fisher_z(pd.Series([1.0, -1.0, 0.0, math.nan]))
    assert np.isfinite(z.iloc[:3]).all()
    assert z.iloc[0] > 13  # arctanh(1 - 1e-12) ~ 14.2
    assert z.iloc[1] == -z.iloc[0]
    assert z.iloc[2] == 0.0
    assert math.isnan(z.iloc[3])


@pytest.mark.parametrize("window", [30, 90])
def test_spike_statistic_is_standardized_fisher_difference(window: int) -> None:
    """spike_statistic is (atanh(r1) - atanh(r2)) / sqrt(2 / (w - 3))."""
    rng = np.random.default_rng(window)
    now, before = rng.uniform(-0.95, 0.95, 300), rng.uniform(-0.95, 0.95, 300)
    before[:5] = np.nan
    got = spike_statistic(pd.Series(now), pd.Series(before), window)
    expected = (np.arctanh(now) - np.arctanh(before)) / math.sqrt(2.0 / (window - 3))
    _assert_same(got, expected)


def test_spike_statistic_on_the_computed_history(analytics: Analytics) -> None:
    """Fed the computed corr and prev_corr, the z is the formula applied session by session."""
    for crypto, equity, window in _keys():
        pair = Pair(crypto, equity)
        now, before = analytics.series(pair, window), analytics.previous(pair, window)
        expected = (np.arctanh(now.to_numpy()) - np.arctanh(before.to_numpy())) / math.sqrt(
            2.0 / (window - 3)
        )
        _assert_same(spike_statistic(now, before, window), expected)


def test_realized_volatility_is_annualized_sample_std(
    returns: pd.DataFrame, analytics: Analytics
) -> None:
    """Vol is np.std(ddof=1) * sqrt(252) over each window's present returns."""
    assert ANNUALIZATION == 252
    assert sorted(analytics.vol.columns) == sorted(
        (s, w) for s in (*CRYPTO, *EQUITIES) for w in WINDOWS
    )
    for symbol in (*CRYPTO, *EQUITIES):
        for window in WINDOWS:
            expected = _ref_vol(returns[symbol].to_numpy(), window)
            _assert_same(analytics.volatility(symbol, window), expected)


@pytest.mark.parametrize("halflife", [7.5, HALFLIFE])
def test_ewm_corr_matches_weighted_numpy(returns: pd.DataFrame, halflife: float) -> None:
    """ewm_corr equals the explicitly weighted correlation, min_periods max(10, int(hl))."""
    result = compute_analytics(returns, CRYPTO, EQUITIES, WINDOWS, halflife=halflife)
    assert sorted(result.ewm_corr.columns) == sorted((c, e) for c in CRYPTO for e in EQUITIES)
    min_periods = max(10, int(halflife))
    for crypto in CRYPTO:
        for equity in EQUITIES:
            x, y = returns[crypto].to_numpy(), returns[equity].to_numpy()
            expected = _ref_ewm_corr(x, y, halflife, min_periods)
            _assert_same(result.ewm_corr[(crypto, equity)], expected)


def test_known_correlation_is_recovered_on_average() -> None:
    """Bivariate normal returns with rho 0.6: the 90-session correlation averages 0.6 +- 0.03."""
    rng = np.random.default_rng(2024)
    n, rho = 5000, 0.6
    cov = [[1.0, rho], [rho, 1.0]]
    draws = rng.multivariate_normal([0.0, 0.0], cov, size=n) * 0.02
    frame = pd.DataFrame(
        draws, columns=["BTC", "PSCT"], index=pd.bdate_range("2000-01-03", periods=n)
    )
    result = compute_analytics(frame, ["BTC"], ["PSCT"], [90], halflife=HALFLIFE)
    series = result.series(Pair("BTC", "PSCT"), 90)
    assert series.notna().sum() == n - 90 + 1
    assert abs(series.mean() - rho) < 0.03
    assert abs(result.ewm_corr[("BTC", "PSCT")].mean() - rho) < 0.03


def test_correlation_is_clipped_into_the_unit_interval() -> None:
    """Exactly collinear legs give correlations within [-1, 1], at +-1 to rounding."""
    rng = np.random.default_rng(13)
    n = 400
    x = rng.normal(0.0, 0.02, n)
    frame = pd.DataFrame(
        {"BTC": x, "UP": 3.0 * x + 0.001, "DOWN": -2.0 * x},
        index=pd.bdate_range("2020-01-06", periods=n),
    )
    result = compute_analytics(frame, ["BTC"], ["UP", "DOWN"], [30, 90], halflife=HALFLIFE)
    for frame_ in (result.corr, result.ewm_corr):
        values = frame_.to_numpy()
        finite = values[~np.isnan(values)]
        assert finite.size > 0
        assert (finite <= 1.0).all()
        assert (finite >= -1.0).all()
        assert (np.abs(np.abs(finite) - 1.0) < TOL).all()
    assert (result.corr.xs("UP", axis=1, level=1).dropna() > 0).all().all()
    assert (result.corr.xs("DOWN", axis=1, level=1).dropna() < 0).all().all()


def test_large_universe_in_one_call_has_every_column() -> None:
    """2500 sessions x 30 pairs x 2 windows: every frame has the index and the columns."""
    rng = np.random.default_rng(1)
    n = 2500
    crypto = [f"C{i}" for i in range(5)]
    equities = [f"E{i}" for i in range(6)]
    index = pd.bdate_range("2010-01-04", periods=n)
    frame = pd.DataFrame(rng.normal(0.0, 0.02, (n, 11)), columns=[*crypto, *equities], index=index)
    windows = (30, 90)
    result = compute_analytics(frame, crypto, equities, windows, halflife=HALFLIFE)

    pair_keys = [(c, e, w) for c in crypto for e in equities for w in windows]
    assert result.pairs == tuple(Pair(c, e) for c in crypto for e in equities)
    assert len(result.pairs) == 30
    assert result.windows == windows
    assert result.corr.shape == (n, 60)
    assert result.prev_corr.shape == (n, 60)
    assert result.ewm_corr.shape == (n, 30)
    assert result.vol.shape == (n, 22)
    assert sorted(result.corr.columns) == sorted(pair_keys)
    assert sorted(result.prev_corr.columns) == sorted(pair_keys)
    assert sorted(result.vol.columns) == sorted(
        (s, w) for s in [*crypto, *equities] for w in windows
    )
    for frame_ in (result.corr, result.prev_corr, result.ewm_corr, result.vol):
        assert frame_.index.equals(index)
        assert frame_.iloc[-1].notna().all()
    assert result.sessions.equals(index)
    pd.testing.assert_series_equal(
        result.series(Pair("C4", "E5"), 90), result.corr[("C4", "E5", 90)]
    )
    pd.testing.assert_series_equal(
        result.previous(Pair("C0", "E1"), 30), result.prev_corr[("C0", "E1", 30)]
    )
    pd.testing.assert_series_equal(result.volatility("E3", 90), result.vol[("E3", 90)])


def test_a_series_that_starts_late_waits_for_its_own_first_full_window() -> None:
    """ETH listed on session 200: no 30-session correlation before 229, then on all 30."""
    rng = np.random.default_rng(5)
    n = 300
    frame = pd.DataFrame(
        {"BTC": rng.normal(size=n), "ETH": rng.normal(size=n), "PSCT": rng.normal(size=n)},
        index=pd.bdate_range("2017-01-02", periods=n),
    )
    frame.iloc[:200, frame.columns.get_loc("ETH")] = np.nan
    result = compute_analytics(frame, ["BTC", "ETH"], ["PSCT"], [30], halflife=HALFLIFE)
    eth = result.series(Pair("ETH", "PSCT"), 30)
    assert eth.iloc[:229].isna().all()
    assert result.used[("ETH", "PSCT", 30)].iloc[229] == 30
    assert result.volatility("ETH", 30).iloc[:229].isna().all()
    assert not math.isnan(result.volatility("ETH", 30).iloc[229])
