"""``corrbot calibrate``: the calibration of :mod:`bot.core.calibration`, on a terminal.

Prints, per period, pair and rule, alerts per year on the real history beside the mean and
90% range on each null, lists the alerts the real history sends, and writes every rate as
CSV. The core stays free of terminals: the progress bar and the layout live here.
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from bot.config import Config
from bot.core.calibration import NULLS, CalibrationResult, Period, RateRow, calibrate
from bot.core.engine import AlertEngine
from bot.core.errors import ConfigError
from bot.core.sampling import Sampling
from bot.render import table
from bot.wiring import build_alert_settings

__all__ = ["SHOWN", "run_calibration", "sampling_text"]

#: (rule, measure) rows shown on the terminal, with their label; the CSV has them all.
SHOWN = (
    ("shift", "pushed", "shift: alerts pushed"),
    ("shift", "silent", "shift: silent follow-ups"),
    ("regime", "silent", "regime: silent follow-ups"),
    ("regime", "events", "regime: band changes (never pushed)"),
)


def sampling_text(config: Config, sampling: dict[str, Sampling]) -> str:
    """How the crypto was sampled, which a backtest and a calibration must say."""
    crypto = {sampling.get(c.symbol, "equity_close") for c in config.universe.crypto}
    lead = "on" if config.alerts.shift.lead else "off"
    if crypto == {"equity_close"}:
        return "crypto sampled at the equity close (synchronous with the equities)."
    return (
        "crypto sampled at its daily close (00:00 UTC, 3 to 7 hours after the equity close; "
        f"news after the US close lands a session apart). alerts.shift.lead is {lead}."
    )


def run_calibration(
    config: Config,
    returns: pd.DataFrame,
    *,
    sampling: dict[str, Sampling],
    paths: int,
    seed: int,
    start: date | None,
    end: date | None,
    split: date | None,
    out: Path,
) -> bool:
    """Calibrate the configured rules on ``returns``; print the table, write the CSV."""
    if returns.empty:
        raise ConfigError("no returns to calibrate on: the store holds no usable prices")
    sessions = pd.DatetimeIndex(returns.index[returns.notna().any(axis=1)])
    if sessions.empty:
        raise ConfigError("no returns to calibrate on: the store holds no usable prices")
    first = start or sessions[0].date()
    last = end or sessions[-1].date()
    returns = returns.loc[: pd.Timestamp(last)]
    periods = _periods(first, last, split)
    engine = AlertEngine(build_alert_settings(config))
    pairs = ", ".join(str(pair) for pair in config.alert_pairs)
    print(f"Calibration of {pairs}, {first} to {last}: {paths} null histories per null.")
    print(f"Sampling: {sampling_text(config, sampling)}")
    result = _calibrated(engine, returns, config, periods, paths=paths, seed=seed)
    print(_report(result))
    out.parent.mkdir(parents=True, exist_ok=True)
    result.frame().to_csv(out, index=False)
    print(f"\nWrote {out}")
    return True


def _periods(first: date, last: date, split: date | None) -> list[Period]:
    if split is None:
        return [Period("all", first, last)]
    if not first < split <= last:
        raise ConfigError(
            f"--split {split} must fall after the first session ({first}) and on or before "
            f"the last ({last})"
        )
    return [
        Period("in-sample", first, split - timedelta(days=1)),
        Period("out-of-sample", split, last),
    ]


def _calibrated(
    engine: AlertEngine,
    returns: pd.DataFrame,
    config: Config,
    periods: list[Period],
    *,
    paths: int,
    seed: int,
) -> CalibrationResult:
    from tqdm import tqdm

    total = paths * len(NULLS) * len(config.alert_pairs)
    with tqdm(
        total=total, unit="path", desc="nulls", disable=not sys.stderr.isatty(), leave=False
    ) as bar:

        def advance(done: int) -> None:
            bar.update(done)

        try:
            return calibrate(
                engine,
                returns,
                config.alert_pairs,
                periods,
                paths=paths,
                seed=seed,
                progress=advance,
            )
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def _report(result: CalibrationResult) -> str:
    """The terminal table: per period, pair and rule, real beside each null."""
    by_key: dict[tuple[str, str, str, str], dict[str, RateRow]] = {}
    for row in result.rows:
        key = (row.period.name, str(row.pair), row.rule, row.measure)
        by_key.setdefault(key, {})[row.null] = row
    headers = ["period", "pair", "what, per year", "real", *(f"null: {n}" for n in NULLS)]
    lines = []
    for (period, pair, rule, measure), nulls in by_key.items():
        label = next((text for r, m, text in SHOWN if (r, m) == (rule, measure)), None)
        if label is None:
            continue
        real = next(iter(nulls.values())).real_per_year
        lines.append(
            [period, pair, label, f"{real:.2f}", *(_null_cell(nulls[name]) for name in NULLS)]
        )
    text = [table(headers, lines, right=(3, 4, 5, 6)), ""]
    text.append("Null cells: mean (5th to 95th percentile) over the null histories.")
    text.append(
        "Parametric nulls hold the correlation at "
        + ", ".join(f"{pair} {value:+.2f}" for pair, value in result.correlations.items())
        + " (volatility-scaled returns, whole history)."
    )
    pushed = [alert for alert in result.real_alerts if alert.notify]
    text.append(f"\nThe real history pushes {len(pushed)} alerts:")
    text.extend(
        f"  {a.session} {a.pair} {a.kind.value} {a.direction}: corr {a.corr:+.2f} "
        f"({a.lower:+.2f} to {a.upper:+.2f}) against {a.prev_corr:+.2f}, z {a.z:+.1f}"
        for a in pushed
    )
    return "\n".join(text)


def _null_cell(row: RateRow) -> str:
    return f"{row.null_mean:.2f} ({row.null_p05:.2f}-{row.null_p95:.2f})"
