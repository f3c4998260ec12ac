"""Vectorized building blocks of the alert rules: arrays of shape (paths, sessions).

Live runs pass one path (the real history), calibration a thousand null histories at once,
through the same functions, so what calibration measures is what the bot does. Missing
returns are NaN and stay missing: a window counts only the sessions it actually has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["devolatilized", "rolling_corr", "rolling_mean", "rolling_sum", "shifted"]


def rolling_sum(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of the non-missing values in each trailing ``window`` (axis 1)."""
    present = ~np.isnan(values)
    filled = np.where(present, values, 0.0)
    zeros = np.zeros((values.shape[0], 1))
    sums = np.cumsum(np.concatenate([zeros, filled], axis=1), axis=1)
    counts = np.cumsum(np.concatenate([zeros, present.astype(np.float64)], axis=1), axis=1)
    total = np.full(values.shape, np.nan)
    count = np.zeros(values.shape)
    if values.shape[1] >= window:
        total[:, window - 1 :] = sums[:, window:] - sums[:, :-window]
        count[:, window - 1 :] = counts[:, window:] - counts[:, :-window]
    return total, count


def rolling_mean(values: np.ndarray, window: int, min_count: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the non-missing values in each trailing window, NaN below ``min_count``."""
    total, count = rolling_sum(values, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count >= min_count, total / count, np.nan)
    return mean, count


def rolling_corr(
    x: np.ndarray, y: np.ndarray, window: int, min_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation over the sessions of each window where both are present.

    Returns the correlation and the number of sessions it used (its ``n``).
    """
    both = ~(np.isnan(x) | np.isnan(y))
    xs, ys = np.where(both, x, np.nan), np.where(both, y, np.nan)
    mean_x, n = rolling_mean(xs, window, min_count)
    mean_y, _ = rolling_mean(ys, window, min_count)
    mean_xy, _ = rolling_mean(xs * ys, window, min_count)
    mean_xx, _ = rolling_mean(xs * xs, window, min_count)
    mean_yy, _ = rolling_mean(ys * ys, window, min_count)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = mean_xy - mean_x * mean_y
        scale = np.sqrt((mean_xx - mean_x**2) * (mean_yy - mean_y**2))
        corr = np.where(scale > 0, cov / scale, np.nan)
    return np.clip(corr, -1.0, 1.0), n


def devolatilized(returns: np.ndarray, halflife: float, min_periods: int) -> np.ndarray:
    """Each return divided by its leg's volatility as known the session before.

    The volatility is an exponentially weighted RMS of past returns (half-life in sessions),
    so a crash is measured against the calm before it and cannot hide itself. Sessions
    before ``min_periods`` returns have no volatility yet and come out missing.
    """
    squares = pd.DataFrame(np.square(returns).T)
    variance = squares.ewm(halflife=halflife, min_periods=min_periods, ignore_na=True).mean()
    past = variance.shift(1).to_numpy().T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(past > 0, returns / np.sqrt(past), np.nan)


def shifted(values: np.ndarray, sessions: int) -> np.ndarray:
    """``values`` moved ``sessions`` later along axis 1 (the first ones become missing)."""
    out = np.full(values.shape, np.nan)
    if sessions < values.shape[1]:
        out[:, sessions:] = values[:, : values.shape[1] - sessions]
    return out
