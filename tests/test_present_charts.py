"""PNG charts: format, size, what changes the picture, and headless thread-safe rendering."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.core.analytics import Analytics, compute_analytics
from bot.core.models import Alert, AlertKind, Pair
from bot.core.regimes import RegimeBands
from bot.present.charts import _ALERT_STYLE, comparison_chart, correlation_chart

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CRYPTO = ["BTC", "ETH"]
EQUITIES = ["PSCT", "IWM", "QQQ"]
PAIR = Pair("BTC", "PSCT")
LABELS = {"PSCT": "US small-cap tech", "IWM": "Russell 2000", "QQQ": "Nasdaq-100"}


def _returns(sessions: int = 600, *, seed: int = 11) -> pd.DataFrame:
    """Log returns where the crypto legs load on the small-cap factor, as in real markets."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2021-01-04", periods=sessions)
    market = rng.standard_normal(sessions)
    noise = rng.standard_normal((sessions, 5))
    loading = np.array([1.0, 0.8, 0.6, 0.4, 0.35])
    data = (market[:, None] * loading + noise * np.sqrt(1 - loading**2 + 0.1)) * 0.01
    return pd.DataFrame(data, index=index, columns=["PSCT", "IWM", "QQQ", "BTC", "ETH"])


def _analytics(returns: pd.DataFrame) -> Analytics:
    return compute_analytics(
        returns, crypto=CRYPTO, equities=EQUITIES, windows=[30, 90], halflife=20
    )


@pytest.fixture(scope="module")
def analytics() -> Analytics:
    return _analytics(_returns())


def _alert(
    analytics: Analytics, pair: Pair, position: int, kind: AlertKind, *, notify: bool = True
) -> Alert:
    session = analytics.sessions[position]
    corr = float(analytics.series(pair, 30).iloc[position])
    episode = None if notify else f"spike:{pair}:30:{analytics.sessions[position - 20].date()}"
    return Alert(
        kind, pair, 30, session.date(), corr, corr - 0.3, 3.5, notify=notify, episode=episode
    )


def _png_size(png: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png[16:24])  # IHDR follows the 8-byte signature
    return width, height


def _chart(
    analytics: Analytics, *, alerts: Sequence[Alert] = (), since: date | None = None
) -> bytes:
    return correlation_chart(
        analytics, PAIR, bands=RegimeBands(), alerts=alerts, since=since, labels=LABELS
    )


def test_correlation_chart_is_a_png(analytics: Analytics) -> None:
    """The correlation chart is PNG bytes."""
    assert _chart(analytics).startswith(PNG_MAGIC)


def test_correlation_chart_is_phone_sized(analytics: Analytics) -> None:
    """The correlation chart is about 960x540 pixels."""
    width, height = _png_size(_chart(analytics))
    assert abs(width - 960) <= 4
    assert abs(height - 540) <= 4


def test_comparison_chart_is_a_phone_sized_png(analytics: Analytics) -> None:
    """The comparison chart is a PNG of about 960x540 pixels."""
    png = comparison_chart(analytics, "BTC", window=90, labels=LABELS)
    assert png.startswith(PNG_MAGIC)
    width, height = _png_size(png)
    assert abs(width - 960) <= 4
    assert abs(height - 540) <= 4


def test_alerts_of_another_pair_are_not_drawn(analytics: Analytics) -> None:
    """An alert about another pair leaves the chart unchanged."""
    other = _alert(analytics, Pair("ETH", "QQQ"), 300, AlertKind.SPIKE)
    assert _chart(analytics, alerts=[other]) == _chart(analytics)


def test_alerts_of_the_pair_are_drawn(analytics: Analytics) -> None:
    """An alert about the charted pair changes the image."""
    own = _alert(analytics, PAIR, 300, AlertKind.SPIKE)
    assert _chart(analytics, alerts=[own]) != _chart(analytics)


def test_every_alert_kind_has_its_own_marker() -> None:
    """Each kind, settled included, has a style; no two share a shape or a legend label."""
    assert set(_ALERT_STYLE) == set(AlertKind)
    assert len({marker for marker, _, _ in _ALERT_STYLE.values()}) == len(AlertKind)
    assert len({label for _, _, label in _ALERT_STYLE.values()}) == len(AlertKind)


@pytest.mark.parametrize("kind", list(AlertKind))
def test_each_kind_of_alert_is_drawn(analytics: Analytics, kind: AlertKind) -> None:
    """An alert of any kind, the end of an episode included, changes the image."""
    follow_up = kind in (AlertKind.REGIME, AlertKind.SETTLED)
    own = _alert(analytics, PAIR, 300, kind, notify=not follow_up)
    assert _chart(analytics, alerts=[own]) != _chart(analytics)


def test_a_silent_follow_up_is_drawn_unlike_a_push(analytics: Analytics) -> None:
    """A follow-up inside an episode gets a smaller marker than the alert that notified."""
    pushed = _alert(analytics, PAIR, 300, AlertKind.SPIKE)
    silent = _alert(analytics, PAIR, 300, AlertKind.SPIKE, notify=False)
    assert _chart(analytics, alerts=[silent]) != _chart(analytics, alerts=[pushed])


def test_an_episode_of_every_kind_renders(analytics: Analytics) -> None:
    """A whole episode (push, further rise, band change, end) renders as one phone-sized PNG."""
    episode = [
        _alert(analytics, PAIR, 300, AlertKind.SPIKE),
        _alert(analytics, PAIR, 306, AlertKind.SPIKE, notify=False),
        _alert(analytics, PAIR, 310, AlertKind.REGIME, notify=False),
        _alert(analytics, PAIR, 340, AlertKind.SETTLED, notify=False),
        _alert(analytics, PAIR, 420, AlertKind.DECOUPLING),
    ]
    png = _chart(analytics, alerts=episode)
    assert png.startswith(PNG_MAGIC)
    width, height = _png_size(png)
    assert abs(width - 960) <= 4
    assert abs(height - 540) <= 4


def test_since_changes_the_chart(analytics: Analytics) -> None:
    """Limiting the range with ``since`` gives another picture."""
    assert _chart(analytics, since=date(2022, 6, 1)) != _chart(analytics)


def test_since_after_the_history_still_renders(analytics: Analytics) -> None:
    """A range without sessions renders a placeholder chart instead of failing."""
    assert _chart(analytics, since=date(2100, 1, 1)).startswith(PNG_MAGIC)


def test_comparison_chart_with_nan_gaps_at_the_start() -> None:
    """An equity whose history starts late leaves a gap, not an error."""
    returns = _returns()
    returns.iloc[:150, returns.columns.get_loc("IWM")] = np.nan
    analytics = _analytics(returns)
    assert analytics.series(Pair("BTC", "IWM"), 30).iloc[:150].isna().all()
    png = comparison_chart(analytics, "BTC", window=30, labels=LABELS)
    assert png.startswith(PNG_MAGIC)


def test_unknown_pair_is_rejected(analytics: Analytics) -> None:
    """A pair that was not analysed is a ValueError, not a blank chart."""
    with pytest.raises(ValueError, match="DOGE~PSCT"):
        correlation_chart(analytics, Pair("DOGE", "PSCT"), bands=RegimeBands())


def test_unknown_window_is_rejected(analytics: Analytics) -> None:
    """A window that was not analysed is a ValueError."""
    with pytest.raises(ValueError, match="no 60-session window"):
        comparison_chart(analytics, "BTC", window=60)


def test_rendering_does_not_use_pyplot() -> None:
    """Rendering both charts never imports pyplot, so no GUI backend or global figure exists."""
    script = textwrap.dedent(
        """
        import sys
        from tests.test_present_charts import PAIR, _analytics, _returns
        from bot.present.charts import _ALERT_STYLE, comparison_chart, correlation_chart
        from bot.core.regimes import RegimeBands

        analytics = _analytics(_returns(200))
        correlation_chart(analytics, PAIR, bands=RegimeBands())
        comparison_chart(analytics, "ETH", window=30)
        print("matplotlib.pyplot" in sys.modules)
        """
    )
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_concurrent_rendering_in_threads(analytics: Analytics) -> None:
    """Charts rendered in parallel threads match the same charts rendered one by one."""
    jobs = [
        lambda: _chart(analytics),
        lambda: comparison_chart(analytics, "BTC", window=30, labels=LABELS),
        lambda: _chart(analytics, since=date(2022, 1, 3)),
        lambda: comparison_chart(analytics, "ETH", window=90, labels=LABELS),
    ]
    expected = [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda job: job(), jobs))
    assert results == expected
