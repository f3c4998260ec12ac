"""What the command line prints: run summaries, per-year tables, the calibration report.

Tables are plain text (:func:`~bot.present.plain.text_table`); every correlation reads as
it does in Telegram (:mod:`bot.present.numbers`), and every message a subscriber would
read is shown as plain text, indented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import pandas as pd

from bot.core.backtest import BacktestResult
from bot.core.calibration import NULLS, CalibrationResult, RateRow
from bot.core.message import Message
from bot.core.sampling import Sampling
from bot.core.service import CheckResult
from bot.core.snapshot import Snapshot
from bot.present.corr import snapshot_message
from bot.present.numbers import fmt_corr
from bot.present.plain import render_text, text_table

__all__ = [
    "BOTFATHER_HELP",
    "SHOWN",
    "Delivered",
    "as_of",
    "backtest_report",
    "calibration_report",
    "check_summary",
    "demo_report",
    "dry_run",
    "indented",
    "per_year_table",
    "sampling_text",
]


class Delivered(Protocol):
    """What a pass of deliveries reports (the Telegram sender's report has these)."""

    sent: int
    retried: int
    failed: int
    dropped: int
    left_to: str | None


BOTFATHER_HELP = (
    "TELEGRAM_BOT_TOKEN is not set. Create a bot by talking to @BotFather in Telegram "
    "(/newbot), then: export TELEGRAM_BOT_TOKEN='<the token it gives you>'. "
    "`corrbot demo` needs no token."
)

#: The alerts the demo shows as a subscriber reads them: the latest few.
DEMO_ALERTS_SHOWN = 3
#: (rule, measure) rows shown on the terminal, with their label; the CSV has them all.
SHOWN = (
    ("shift", "pushed", "shift: alerts pushed"),
    ("shift", "silent", "shift: silent follow-ups"),
    ("regime", "silent", "regime: silent follow-ups"),
    ("regime", "events", "regime: band changes (never pushed)"),
)


def as_of(snapshot: Snapshot | None) -> str:
    """The session the numbers are as of, or ``n/a``."""
    return "n/a" if snapshot is None else snapshot.as_of.isoformat()


def dry_run(snapshot: Snapshot | None, fresh: Sequence[tuple[str, Message, int]]) -> str:
    """``corrbot check --dry-run``: each alert that would go out, and to how many chats."""
    lines = [f"Dry run: data as of {as_of(snapshot)}; nothing recorded or sent."]
    for key, message, recipients in fresh:
        lines.append(f"\n--- {key}: to {recipients} chat(s) ---\n{render_text(message)}")
    if not fresh:
        lines.append("No new alert would be sent.")
    return "\n".join(lines)


def check_summary(result: CheckResult, delivered: Delivered) -> str:
    """``corrbot check``: the session, the new alerts, and what became of the deliveries."""
    head = f"Data as of {as_of(result.snapshot)}: {len(result.recorded)} new alert(s)"
    if delivered.left_to is not None:
        return (
            f"{head} recorded; deliveries left to the running bot (sender {delivered.left_to} "
            "holds this store), which sends them."
        )
    return (
        f"{head}; deliveries: {delivered.sent} sent, {delivered.retried} to retry, "
        f"{delivered.failed} failed, {delivered.dropped} dropped (chat gone)."
    )


def indented(message: Message) -> str:
    """A message as a subscriber reads it, indented under the command's own lines."""
    text = render_text(message)
    return "\n".join(f"  {line}" if line else "" for line in text.splitlines())


def sampling_text(crypto: Sequence[str], sampling: Mapping[str, Sampling], *, lead: bool) -> str:
    """How the crypto was sampled, which a backtest and a calibration must say."""
    kinds = {sampling.get(symbol, "equity_close") for symbol in crypto}
    if kinds == {"equity_close"}:
        return "crypto sampled at the equity close (synchronous with the equities)."
    return (
        "crypto sampled at its daily close (00:00 UTC, 3 to 7 hours after the equity close; "
        f"news after the US close lands a session apart). alerts.shift.lead is "
        f"{'on' if lead else 'off'}."
    )


def per_year_table(table: pd.DataFrame) -> str:
    """The backtest's per-year table: mean correlation per pair, alerts by kind."""
    headers = ["year", *[str(c) for c in table.columns]]
    rows = [
        [
            str(year),
            *(fmt_corr(float(v)) if isinstance(v, float) else str(v) for v in row),
        ]
        for year, row in zip(table.index, table.itertuples(index=False), strict=True)
    ]
    return text_table(headers, rows, right=tuple(range(1, len(headers))))


def calibration_report(result: CalibrationResult) -> str:
    """Per period, pair and rule, alerts per year on the real history beside each null."""
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
    text = [text_table(headers, lines, right=(3, 4, 5, 6)), ""]
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


def backtest_report(result: BacktestResult, sampled: str, out: Path) -> str:
    """``corrbot backtest``: alerts pushed and told silently, the per-year table, the files."""
    alerts = result.evaluation.alerts
    pushed = sum(alert.notify for alert, _ in alerts)
    written = ", ".join(str(out / name) for name in ("correlations.csv", "alerts.csv"))
    return "\n".join(
        [
            f"Backtest {result.start} to {result.end}: {pushed} alerts pushed, "
            f"{len(alerts) - pushed} silent follow-ups; {sampled}",
            per_year_table(result.per_year()),
            f"\nWrote {written}, {out / 'chart.png'} and {out / 'comparison.png'}",
        ]
    )


def demo_report(
    result: BacktestResult, *, origin: str, sampled: str, version: str, out: Path
) -> str:
    """``corrbot demo``: the per-year table, the last alerts and today's ``/corr`` reply."""
    evaluation = result.evaluation
    pushed = [message for alert, message in evaluation.alerts if alert.notify]
    shown = pushed[-DEMO_ALERTS_SHOWN:]
    lines = [
        f"corrbot {version} demo: {origin}, {result.start} to {result.end}",
        f"{sampled}\n",
        f"Per year: mean {result.headline_window}-session correlation and alerts",
        per_year_table(result.per_year()),
        f"\n{len(pushed)} alerts pushed in all (and {len(evaluation.alerts) - len(pushed)} "
        f"silent follow-ups); the last {len(shown)} as a subscriber reads them:",
    ]
    lines.extend("\n" + indented(message) for message in shown)
    if evaluation.snapshot is not None:
        lines.append("\nThe /corr reply today:\n")
        lines.append(indented(snapshot_message(evaluation.snapshot)))
    lines.append(f"\nChart: {(out / 'chart.png').resolve()}")
    lines.append(
        f"Also: {out / 'comparison.png'}, {out / 'alerts.csv'}, {out / 'correlations.csv'}"
    )
    return "\n".join(lines)
