"""PNG charts of rolling correlations, sized to be read on a phone.

A number in a chat says where a correlation is; only a chart says how it got there and
whether today's move is unusual for the pair. Charts are drawn with matplotlib's
object-oriented API on a private ``Figure`` and an Agg canvas: pyplot keeps a global
registry of figures and may pick a GUI backend, neither of which belongs in a bot that
renders in a worker thread of a headless server. Every function returns PNG bytes ready to
upload, so callers never touch matplotlib.

Long because both charts share one style (sizes, colours, bands, the legend that must fit a
phone, the alert markers), kept here so the two never drift apart.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.core.analytics import Analytics
from bot.core.models import Alert, AlertKind, Pair
from bot.core.regimes import REGIMES, RegimeBands

__all__ = ["comparison_chart", "correlation_chart"]

# 8 x 4.5 inches at 120 dpi is 960 x 540 pixels: the width Telegram shows without scaling
# down on most phones, and a 16:9 shape that fits a message bubble.
_FIGSIZE = (8.0, 4.5)
_DPI = 120

# Nothing below 11pt: a chart is read on a phone at arm's length, often without zooming.
_TITLE_SIZE = 14
_TEXT_SIZE = 11

# Matplotlib documents itself as not thread-safe: font and text-layout caches are shared
# across figures. Renders take a fraction of a second, so concurrent callers simply queue;
# building a figure is under the lock too, since text and ticks are laid out while drawing.
_RENDER_LOCK = threading.Lock()

# Light, distinct fills so the regime reads at a glance without competing with the lines;
# the label colours are darker shades of the same hue so each band names itself.
_BAND_FILL: Mapping[str, str] = {
    "inverse": "#dce8f7",
    "decoupled": "#eeeeee",
    "linked": "#fcefd3",
    "coupled": "#f8dcdc",
}
_BAND_TEXT: Mapping[str, str] = {
    "inverse": "#3b6ea5",
    "decoupled": "#6b6b6b",
    "linked": "#a86f08",
    "coupled": "#b23b3b",
}

# Shorter windows' lines; the longest window takes the headline navy of _LINE_COLORS.
_WINDOW_COLORS = ("#e08600", "#009e73", "#cc79a7")

# Colour-blind-safe line colours (Okabe-Ito based); the first is reserved for the headline.
_LINE_COLORS = ("#1f3b73", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00")

# Direction is in the marker's shape, so the meaning survives a greyscale screenshot. Every
# kind has a style: the two that push a notification (a significant change up or down) and
# the two told only as silent replies inside an episode (a band change, the end).
_ALERT_STYLE: Mapping[AlertKind, tuple[str, str, str]] = {
    AlertKind.SPIKE: ("^", "#c62828", "spike"),
    AlertKind.DECOUPLING: ("v", "#00796b", "decoupling"),
    AlertKind.REGIME: ("D", "#6a1b9a", "band change"),
    AlertKind.SETTLED: ("o", "#455a64", "settled"),
}

# A pushed alert is a large marker; a silent follow-up inside an episode (a further rise, a
# band change, the end) a small one, so the chart shows which moments rang a phone.
_PUSHED_SIZE = 90.0
_FOLLOW_UP_SIZE = 42.0


def correlation_chart(
    analytics: Analytics,
    pair: Pair,
    *,
    bands: RegimeBands,
    alerts: Sequence[Alert] = (),
    since: date | None = None,
    labels: Mapping[str, str] | None = None,
    windows: Sequence[int] | None = None,
) -> bytes:
    """The rolling correlation of one pair over every window, with regimes and alerts.

    Both windows on one chart show whether a move is a blip (short window only) or a shift
    (both); the shaded bands show what the alert engine calls each level; alert markers
    tie the messages a user received to the line. Only alerts of ``pair`` are drawn.
    ``since`` limits the x range; by default the whole history is shown. ``windows``
    picks some of the analysed windows (default: all).

    Raises ``ValueError`` when ``pair`` or a window is not among those analysed.
    """
    if pair not in analytics.pairs:
        raise ValueError(f"{pair} is not among the analysed pairs")
    shown = tuple(windows) if windows else analytics.windows
    unknown = [w for w in shown if w not in analytics.windows]
    if unknown:
        raise ValueError(f"window {unknown[0]} is not among the analysed windows")
    frame = pd.DataFrame({f"{window}-session": analytics.series(pair, window) for window in shown})
    frame = _since(frame, since)
    title = f"{_name(pair.crypto, labels)} vs {_name(pair.equity, labels)}: rolling correlation"
    with _RENDER_LOCK:
        fig, ax = _new_figure()
        _shade_bands(ax, bands, alpha=1.0)
        # Shortest window first, thin and warm: it is the noisy one. Longer windows are drawn
        # thicker and on top, since they carry the trend the short one fluctuates around.
        for index, window in enumerate(sorted(shown)):
            longest = index == len(shown) - 1
            _plot_line(
                ax,
                frame[f"{window}-session"],
                label=f"{window}-session",
                color=_LINE_COLORS[0] if longest else _WINDOW_COLORS[index % len(_WINDOW_COLORS)],
                width=2.2 if longest else 1.3,
                zorder=3 + index,
            )
        _plot_alerts(ax, [a for a in alerts if a.pair == pair], frame.index)
        _finish(ax, frame, title=title, empty=f"Not enough history yet for {pair}")
        return _render(fig)


def comparison_chart(
    analytics: Analytics,
    crypto: str,
    *,
    window: int,
    since: date | None = None,
    labels: Mapping[str, str] | None = None,
    bands: RegimeBands | None = None,
) -> bytes:
    """One crypto against every analysed equity, for one window.

    Answers "is this about small caps or about equities in general?": if the crypto's
    correlation with the small-cap index moves alone, the story is specific; if every line
    moves together, it is a market-wide risk-on/risk-off swing. The first equity (the
    headline) is drawn thicker. The regime bands (default edges unless ``bands`` is given)
    are shaded more lightly than on the pair chart: here they are context, not the subject.

    Raises ``ValueError`` when ``crypto`` has no analysed pair or ``window`` is unknown.
    """
    pairs = [pair for pair in analytics.pairs if pair.crypto == crypto]
    if not pairs:
        raise ValueError(f"{crypto} is not among the analysed crypto assets")
    if window not in analytics.windows:
        known = ", ".join(str(w) for w in analytics.windows)
        raise ValueError(f"no {window}-session window was analysed (known: {known})")
    frame = pd.DataFrame(
        {_name(pair.equity, labels): analytics.series(pair, window) for pair in pairs}
    )
    frame = _since(frame, since)
    title = f"{_name(crypto, labels)} vs US equities: {window}-session correlation"
    with _RENDER_LOCK:
        fig, ax = _new_figure()
        _shade_bands(ax, bands or RegimeBands(), alpha=0.55)
        for index, column in enumerate(frame.columns):
            headline = index == 0
            _plot_line(
                ax,
                frame[column],
                label=str(column),
                color=_color(index),
                width=2.6 if headline else 1.4,
                zorder=4 if headline else 3,  # the headline stays on top where lines cross
            )
        _finish(ax, frame, title=title, empty=f"Not enough history yet for {crypto}")
        return _render(fig)


def _name(symbol: str, labels: Mapping[str, str] | None) -> str:
    """``PSCT (US small-cap tech)`` when a label is known, else the bare symbol."""
    label = (labels or {}).get(symbol, "")
    return f"{symbol} ({label})" if label else symbol


def _since(frame: pd.DataFrame, since: date | None) -> pd.DataFrame:
    """Rows from ``since`` on; the whole history when ``since`` is ``None``."""
    if since is None:
        return frame
    return frame.loc[frame.index >= pd.Timestamp(since)]


def _color(index: int) -> str:
    """Line colours cycle, so any number of equities can be compared."""
    return _LINE_COLORS[index % len(_LINE_COLORS)]


def _new_figure() -> tuple[Figure, Axes]:
    """A fresh figure on its own Agg canvas, never registered with pyplot."""
    fig = Figure(figsize=_FIGSIZE, dpi=_DPI, layout="tight", facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    return fig, ax


def _shade_bands(ax: Axes, bands: RegimeBands, *, alpha: float) -> None:
    """Shade each regime across the plot and name it just outside the right edge."""
    for regime in REGIMES:
        low, high = bands.bounds(regime)
        low, high = max(low, -1.0), min(high, 1.0)
        if high <= low:
            continue
        ax.axhspan(low, high, color=_BAND_FILL[regime], alpha=alpha, linewidth=0, zorder=0)
        ax.text(
            1.01,
            (low + high) / 2,
            regime,
            transform=ax.get_yaxis_transform(),
            ha="left",
            va="center",
            fontsize=_TEXT_SIZE,
            color=_BAND_TEXT[regime],
            style="italic",
        )


def _days(values: npt.NDArray[np.datetime64]) -> npt.NDArray[np.float64]:
    """Matplotlib's date numbers, so every artist shares one explicit x scale."""
    return np.asarray(mdates.date2num(values), dtype=np.float64)  # type: ignore[no-untyped-call]


def _date_axis(ax: Axes) -> None:
    """Concise date ticks: years on a long history, months and the year on a short one."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=8)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    ax.xaxis.get_offset_text().set_fontsize(_TEXT_SIZE)


def _plot_line(
    ax: Axes, series: pd.Series, *, label: str, color: str, width: float, zorder: float = 3
) -> None:
    """One correlation line; NaN values are kept so the line breaks instead of bridging."""
    x = _days(pd.DatetimeIndex(series.index).to_numpy())
    y = series.to_numpy(dtype=float)
    ax.plot(x, y, label=label, color=color, linewidth=width, zorder=zorder)


def _plot_alerts(ax: Axes, alerts: Iterable[Alert], sessions: pd.Index) -> None:
    """One marker style per alert kind, at the session and level the alert reported.

    Pushed alerts are drawn large, silent follow-ups small; ``settled`` (the end of an
    episode) is a hollow circle. One legend entry per kind shown.
    """
    if len(sessions) == 0:
        return
    first, last = pd.Timestamp(sessions[0]), pd.Timestamp(sessions[-1])
    shown = [a for a in alerts if first <= pd.Timestamp(a.session) <= last]
    for kind, (marker, color, label) in _ALERT_STYLE.items():
        of_kind = [a for a in shown if a.kind is kind]
        if not of_kind:
            continue
        x = _days(np.array([np.datetime64(a.session, "D") for a in of_kind]))
        y = [max(-1.0, min(1.0, a.corr)) for a in of_kind]
        sizes = [_PUSHED_SIZE if a.notify else _FOLLOW_UP_SIZE for a in of_kind]
        hollow = kind is AlertKind.SETTLED
        ax.scatter(
            x,
            y,
            marker=marker,
            s=sizes,
            facecolors="white" if hollow else color,
            edgecolors=color if hollow else "white",
            linewidths=1.8 if hollow else 0.9,
            label=label,
            zorder=5,
            clip_on=False,
        )


def _finish(ax: Axes, frame: pd.DataFrame, *, title: str, empty: str) -> None:
    """Axes, date ticks, title, "as of" line and legend shared by every chart."""
    ax.axhline(0.0, color="#555555", linewidth=0.9, zorder=2)
    ax.set_ylim(-1.0, 1.0)
    ax.set_yticks([-1.0, -0.5, 0.0, 0.5, 1.0])
    ax.set_ylabel("correlation", fontsize=_TEXT_SIZE, color="#333333")
    ax.tick_params(labelsize=_TEXT_SIZE, colors="#333333")
    ax.grid(axis="x", color="#ffffff", linewidth=0.8, alpha=0.9, zorder=1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#888888")

    if len(frame.index) > 0:
        start, end = _days(pd.DatetimeIndex(frame.index[[0, -1]]).to_numpy())
        ax.set_xlim(start, max(end, start + 1.0))
        _date_axis(ax)
    else:
        # No sessions at all: ticks would show a meaningless 1970 range.
        ax.set_xticks([])

    # Long labels would push the title past the edge, where the layout cannot rescue it.
    title_size = _TITLE_SIZE if len(title) <= 64 else _TEXT_SIZE + 1
    ax.set_title(title, loc="left", fontsize=title_size, fontweight="bold", pad=22)
    valid = frame.dropna(how="all")
    if valid.empty:
        # Still a chart, so the caller always has something to send.
        ax.text(
            0.5,
            0.5,
            empty,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=_TITLE_SIZE,
            color="#333333",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.9, "pad": 6},
            zorder=6,
        )
        return
    as_of = pd.Timestamp(valid.index[-1]).date().isoformat()
    ax.annotate(
        f"as of {as_of}",
        xy=(0.0, 1.0),
        xycoords="axes fraction",
        xytext=(0, 6),
        textcoords="offset points",
        ha="left",
        va="bottom",
        fontsize=_TEXT_SIZE,
        color="#555555",
    )
    _, names = ax.get_legend_handles_labels()
    ax.legend(
        loc="lower left",
        ncols=_legend_columns(names),
        fontsize=_TEXT_SIZE,
        frameon=True,
        framealpha=0.85,
        edgecolor="none",
        handlelength=1.6,
        columnspacing=1.2,
        borderaxespad=0.4,
    )


def _legend_columns(names: Sequence[str]) -> int:
    """One row if it fits, else two rows, else one column.

    A legend wider than the plot would spill over the band labels or squeeze the axes.
    Entries fill columns top to bottom, so with two rows the window lines share the first
    column and the alert markers follow.
    """
    fits = 60  # characters, counting about five for each handle and its spacing

    def width(columns: int) -> int:
        rows = -(-len(names) // columns)
        chunks = [names[i : i + rows] for i in range(0, len(names), rows)]
        return sum(max(len(name) for name in chunk) + 5 for chunk in chunks)

    for columns in (len(names), -(-len(names) // 2)):
        if columns > 0 and width(columns) <= fits:
            return columns
    return 1


def _render(fig: Figure) -> bytes:
    """Draw the figure to PNG bytes; callers hold the render lock."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()
