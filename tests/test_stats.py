"""The statistics behind the numbers subscribers read, against known answers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from bot.core.stats import (
    dependent_difference,
    fisher_interval,
    fisher_intervals,
    rolling_rank_corr,
    student_t_quantile,
    two_sided_p,
    volatility_adjusted,
)


@pytest.mark.parametrize(("corr", "sessions"), [(0.3, 30), (-0.6, 250), (0.0, 10), (0.95, 60)])
def test_fisher_interval_is_tanh_of_atanh_plus_minus_1_96_over_root_n_minus_3(
    corr: float, sessions: int
) -> None:
    """The 95% interval is tanh(atanh(r) +- 1.96 / sqrt(n - 3))."""
    half = 1.959964 / math.sqrt(sessions - 3)
    lower, upper = fisher_interval(corr, sessions)
    assert lower == pytest.approx(math.tanh(math.atanh(corr) - half), abs=1e-6)
    assert upper == pytest.approx(math.tanh(math.atanh(corr) + half), abs=1e-6)


def test_fisher_interval_widens_with_fewer_sessions() -> None:
    """Fewer sessions, less certainty: each interval contains the one with more sessions."""
    intervals = [fisher_interval(0.4, n) for n in (250, 120, 60, 30, 10)]
    for (lo_more, hi_more), (lo_fewer, hi_fewer) in itertools.pairwise(intervals):
        assert lo_fewer < lo_more < 0.4 < hi_more < hi_fewer


def test_fisher_interval_variance_scales_the_half_width_in_z() -> None:
    """A variance factor of 2 (lead-adjusted) widens the z half-width by sqrt(2)."""
    lower, upper = fisher_interval(0.2, 50, variance=2.0)
    assert math.atanh(upper) - math.atanh(0.2) == pytest.approx(1.959964 * math.sqrt(2 / 47), 1e-5)
    assert math.atanh(0.2) - math.atanh(lower) == pytest.approx(1.959964 * math.sqrt(2 / 47), 1e-5)


def test_fisher_interval_is_unknown_below_four_sessions_or_without_a_correlation() -> None:
    """No interval for n < 4 or a NaN correlation."""
    assert all(math.isnan(v) for v in fisher_interval(0.5, 3))
    assert all(math.isnan(v) for v in fisher_interval(math.nan, 100))


def test_fisher_intervals_match_the_scalar_interval_elementwise() -> None:
    """The array form gives the scalar form's numbers, NaN where there is none."""
    rng = np.random.default_rng(11)
    corr = rng.uniform(-0.95, 0.95, 40)
    sessions = rng.integers(1, 300, 40).astype(float)
    corr[3] = math.nan
    lower, upper = fisher_intervals(corr, sessions)
    for i in range(40):
        expected = fisher_interval(float(corr[i]), float(sessions[i]))
        np.testing.assert_allclose([lower[i], upper[i]], expected, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize(
    ("df", "table"),
    [(4, 2.776), (5, 2.571), (10, 2.228), (30, 2.042), (120, 1.980), (1e6, 1.960)],
)
def test_student_t_quantile_matches_the_table(df: float, table: float) -> None:
    """t(0.975, df) from the Cornish-Fisher expansion is within 1e-3 of the printed table."""
    assert student_t_quantile(0.975, df) == pytest.approx(table, abs=1e-3)


@pytest.mark.parametrize("df", [4, 5, 7, 10, 21, 27, 60, 247])
def test_the_critical_value_agrees_with_the_p_value_shown_beside_it(df: int) -> None:
    """At the 95% critical value the exact two-sided p-value is 0.05 (to 1e-4).

    The verdict (|t| beyond the critical value) and the p-value a message prints beside it
    cannot disagree but on a hair's breadth.
    """
    assert two_sided_p(student_t_quantile(0.975, df), df) == pytest.approx(0.05, abs=1e-4)


def test_student_t_quantile_is_antisymmetric() -> None:
    """t(1 - p) = -t(p)."""
    assert student_t_quantile(0.025, 20) == pytest.approx(-student_t_quantile(0.975, 20))


def test_a_large_gap_between_correlations_sharing_a_leg_is_significant() -> None:
    """0.7 against 0.2 with the equities correlated 0.5, over 250 sessions, differ."""
    result = dependent_difference(0.7, 0.2, 0.5, 250)
    assert result.significant
    assert result.difference == pytest.approx(0.5)
    # Williams' T2 by hand: |R| = 0.36, mean 0.45, denominator 2*249/247*0.36 + 0.45^2*0.5^3.
    denominator = 2 * 249 / 247 * 0.36 + 0.45**2 * 0.5**3
    assert result.t == pytest.approx(0.5 * math.sqrt(249 * 1.5 / denominator))
    assert result.critical == pytest.approx(student_t_quantile(0.975, 247))


def test_equal_correlations_do_not_differ() -> None:
    """Two equal correlations are never a significant difference."""
    result = dependent_difference(0.4, 0.4, 0.5, 250)
    assert result.t == 0.0
    assert not result.significant


def test_the_dependent_difference_is_sign_symmetric() -> None:
    """Swapping the two correlations flips the sign of the statistic, nothing else."""
    ab, ba = dependent_difference(0.7, 0.2, 0.5, 250), dependent_difference(0.2, 0.7, 0.5, 250)
    assert ba.t == pytest.approx(-ab.t)
    assert ba.difference == pytest.approx(-ab.difference)
    assert ba.significant == ab.significant


def test_a_small_gap_is_not_significant() -> None:
    """0.45 against 0.40 on 250 sessions is noise."""
    assert not dependent_difference(0.45, 0.4, 0.5, 250).significant


def test_the_dependent_difference_is_unknown_without_data() -> None:
    """A missing correlation or too few sessions gives no verdict."""
    assert not dependent_difference(math.nan, 0.2, 0.5, 250).significant
    assert math.isnan(dependent_difference(0.7, 0.2, 0.5, 5).t)


@pytest.mark.parametrize(("corr", "vol_ratio"), [(0.5, 2.0), (0.8, 1.5), (-0.3, 3.0), (0.6, 0.5)])
def test_volatility_adjusted_follows_forbes_and_rigobon(corr: float, vol_ratio: float) -> None:
    """rho* = rho / sqrt(1 + delta (1 - rho^2)) with delta = vol_ratio^2 - 1."""
    delta = vol_ratio**2 - 1
    expected = corr / math.sqrt(1 + delta * (1 - corr**2))
    assert volatility_adjusted(corr, vol_ratio) == pytest.approx(expected)


def test_volatility_adjusted_is_the_identity_without_a_volatility_change() -> None:
    """At the usual volatility there is nothing to correct."""
    for corr in (-0.9, -0.2, 0.0, 0.35, 0.99):
        assert volatility_adjusted(corr, 1.0) == pytest.approx(corr)


def test_volatility_adjusted_undoes_the_mechanical_rise_of_a_volatile_market() -> None:
    """The correction undoes the rise that doubling the market's volatility causes.

    y = beta x + e at correlation 0.5; with x twice as volatile the correlation reads
    higher, and the corrected value is 0.5 again.
    """
    rng = np.random.default_rng(7)
    x, noise = rng.standard_normal(200_000), rng.standard_normal(200_000)
    beta = 1 / math.sqrt(3)  # corr(x, beta x + e) = 0.5 at unit variances
    calm = np.corrcoef(x, beta * x + noise)[0, 1]
    volatile = np.corrcoef(2 * x, beta * 2 * x + noise)[0, 1]
    assert calm == pytest.approx(0.5, abs=0.01)
    assert volatile > 0.7
    assert volatility_adjusted(volatile, 2.0) == pytest.approx(0.5, abs=0.01)


def test_volatility_adjusted_is_unknown_for_missing_inputs() -> None:
    """NaN in, NaN out; a non-positive ratio has no meaning."""
    assert math.isnan(volatility_adjusted(math.nan, 2.0))
    assert math.isnan(volatility_adjusted(0.5, math.nan))
    assert math.isnan(volatility_adjusted(0.5, 0.0))


def _pandas_rolling_spearman(
    x: pd.Series, y: pd.Series, window: int, min_periods: int
) -> pd.Series:
    """The reference: per window, drop sessions missing either, rank, then Pearson."""
    out = pd.Series(np.nan, index=x.index)
    for end in range(window - 1, len(x)):
        block = pd.DataFrame(
            {"x": x.iloc[end - window + 1 : end + 1], "y": y.iloc[end - window + 1 : end + 1]}
        )
        block = block.dropna()
        if len(block) >= min_periods:
            ranks = block.rank()
            out.iloc[end] = ranks["x"].corr(ranks["y"])
    return out


def _correlated(seed: int, sessions: int, rho: float) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(sessions), rng.standard_normal(sessions)
    index = pd.bdate_range("2022-01-03", periods=sessions)
    return pd.Series(a, index=index), pd.Series(rho * a + math.sqrt(1 - rho**2) * b, index=index)


def test_rolling_rank_corr_equals_pandas_rolling_spearman() -> None:
    """On continuous random data every window matches rank-then-correlate."""
    x, y = _correlated(1, 120, 0.4)
    got = rolling_rank_corr(x, y, 30, 24)
    expected = _pandas_rolling_spearman(x, y, 30, 24)
    assert got.index.equals(x.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-12, equal_nan=True)
    assert got.iloc[:29].isna().all()
    assert got.iloc[29:].notna().all()


def test_rolling_rank_corr_skips_holes_and_averages_ties() -> None:
    """Holes are left out, ties share ranks, short windows have no correlation."""
    x, y = _correlated(2, 150, -0.3)
    x, y = x.round(1), y.round(1)  # many ties
    x.iloc[[5, 40, 41, 90]] = np.nan
    y.iloc[[41, 60]] = np.nan
    x.iloc[100:110] = np.nan  # windows covering this run fall under min_periods
    got = rolling_rank_corr(x, y, 20, 15)
    expected = _pandas_rolling_spearman(x, y, 20, 15)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-12, equal_nan=True)
    assert got.iloc[110:115].isna().all()


def test_rolling_rank_corr_of_a_short_history_is_all_missing() -> None:
    """Fewer sessions than one window: nothing to rank."""
    x, y = _correlated(3, 10, 0.5)
    assert rolling_rank_corr(x, y, 30, 24).isna().all()


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [(12.706, 1, 0.05), (4.303, 2, 0.05), (2.228, 10, 0.05), (2.052, 27, 0.05), (0.0, 27, 1.0)],
)
def test_two_sided_p_matches_student_t_tables(t: float, df: float, p: float) -> None:
    """The p-value of Williams' t is Student's, to the tables' three decimals."""
    assert two_sided_p(t, df) == pytest.approx(p, abs=5e-4)
    assert two_sided_p(-t, df) == two_sided_p(t, df)


def _williams_rejections(rho: tuple[float, float, float], sessions: int, seed: int) -> float:
    """How often Williams' test says corr(X, A) != corr(X, B) on 2000 Gaussian samples.

    ``rho`` is (corr(X, A), corr(X, B), corr(A, B)) of the population.
    """
    r_a, r_b, r_ab = rho
    cov = np.array([[1, r_a, r_b], [r_a, 1, r_ab], [r_b, r_ab, 1]])
    rng = np.random.default_rng(seed)
    samples = rng.standard_normal((2000, sessions, 3)) @ np.linalg.cholesky(cov).T
    rejected = 0
    for sample in samples:
        r = np.corrcoef(sample.T)
        rejected += dependent_difference(r[0, 1], r[0, 2], r[1, 2], sessions).significant
    return rejected / len(samples)


def test_williams_test_is_wrong_5_percent_of_the_time_on_equal_correlations() -> None:
    """Equal population correlations (0.4, 0.4, legs 0.5): 60-session samples reject ~5%."""
    assert 0.035 <= _williams_rejections((0.4, 0.4, 0.5), 60, seed=5) <= 0.065


def test_williams_test_sees_a_large_difference_on_many_sessions() -> None:
    """0.7 against 0.3 (legs 0.5) on 250 sessions is seen nearly always."""
    assert _williams_rejections((0.7, 0.3, 0.5), 250, seed=6) > 0.99
