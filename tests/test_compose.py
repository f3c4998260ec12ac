"""The composition root: the configured store under the service, and config keys in the core."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from bot.compose import alert_settings, build, daily_schedule, refresh_settings, regime_bands
from bot.config import Config
from bot.core.errors import StoreError
from bot.core.market_data import RefreshSettings
from bot.core.regimes import RegimeBands
from bot.core.rules.shift import ShiftSettings
from bot.core.store import Store

#: Monday 2024-06-03, 23:00 UTC: that session has closed, and its crypto close is in.
NOW = datetime(2024, 6, 3, 23, 0, tzinfo=UTC)


def _config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    """The synthetic market (no network) and a store in ``tmp_path``; ``sections`` on top."""
    raw: dict[str, Any] = {
        "data": {"crypto_source": "synthetic", "equity_source": "synthetic"},
        "storage": {"path": tmp_path / "configured.sqlite3"},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return Config.model_validate(raw)


async def test_build_wires_the_service_to_the_configured_store(tmp_path: Path) -> None:
    """A daily run through the built service is on record in the file storage.path names."""
    config = _config(tmp_path, data={"history_sessions": 300})
    async with build(config, lambda: NOW, show_progress=False) as services:
        result = await services.service.check_now()
    assert result.snapshot is not None
    with Store.open(tmp_path / "configured.sqlite3") as store:
        last_run = store.meta.last_run()
        snapshot = store.meta.snapshot()
        prices = store.query("SELECT COUNT(*) FROM prices")[0][0]
    assert last_run is not None
    assert (last_run.started_at, last_run.as_of) == (NOW, result.snapshot.as_of)
    assert snapshot is not None
    assert snapshot.as_of == result.snapshot.as_of
    assert prices


async def test_the_market_data_reads_the_stores_price_cache(tmp_path: Path) -> None:
    """Closes written into the store's prices are what the built market data's panel holds."""
    async with build(_config(tmp_path), lambda: NOW, show_progress=False) as services:
        closes = services.market.window()[-2:]
        written = pd.Series([41.5, 42.25], index=pd.DatetimeIndex(closes), dtype="float64")
        services.store.prices.upsert("PSCT", written, source="test", fetched_at=NOW)
        held = services.market.panel().prices["PSCT"].dropna()
    assert held.to_dict() == {pd.Timestamp("2024-05-31"): 41.5, pd.Timestamp("2024-06-03"): 42.25}


async def test_closing_the_services_closes_the_store(tmp_path: Path) -> None:
    """After Services.close the store refuses queries: the file is let go."""
    services = build(_config(tmp_path), lambda: NOW, show_progress=False)
    assert services.store.query("SELECT 1") == [(1,)]
    await services.close()
    with pytest.raises(StoreError, match="closed"):
        services.store.query("SELECT 1")


def test_regime_bands_are_alerts_regime_edges_and_hysteresis(tmp_path: Path) -> None:
    """alerts.regime.edges and .hysteresis are the bands charts and messages use."""
    config = _config(tmp_path, alerts={"regime": {"edges": [-0.3, 0.1, 0.6], "hysteresis": 0.08}})
    assert regime_bands(config) == RegimeBands(edges=(-0.3, 0.1, 0.6), hysteresis=0.08)


def test_alert_settings_carry_every_rule_key_over_the_headline_window(tmp_path: Path) -> None:
    """alerts.shift.*, alerts.regime.* and the analysis' headline window reach the engine."""
    config = _config(
        tmp_path,
        analysis={"windows": [20, 60], "headline_window": 60, "min_coverage": 0.9},
        alerts={
            "shift": {
                "z": 4.0,
                "rearm_z": 1.5,
                "baseline_sessions": 300,
                "settle_sessions": 15,
                "clip": 4.5,
                "vol_halflife": 30.0,
                "lead": True,
            },
            "regime": {"edges": [-0.3, 0.1, 0.6], "hysteresis": 0.08, "confirm_sessions": 5},
        },
    )
    settings = alert_settings(config)
    assert settings.shift == ShiftSettings(
        window=60,
        baseline=300,
        z=4.0,
        rearm_z=1.5,
        settle_sessions=15,
        clip=4.5,
        vol_halflife=30.0,
        lead=True,
        min_coverage=0.9,
    )
    assert settings.regime.bands == RegimeBands(edges=(-0.3, 0.1, 0.6), hysteresis=0.08)
    assert settings.regime.confirm_sessions == 5


def test_refresh_settings_carry_the_data_keys(tmp_path: Path) -> None:
    """data.* reaches the refresh, stale_after_minutes as a duration."""
    config = _config(
        tmp_path,
        data={
            "history_sessions": 250,
            "refresh_overlap_sessions": 5,
            "late_retry_sessions": 12,
            "stale_after_minutes": 45,
            "outlier_zscore": 8.0,
            "crypto_sampling": "daily_close",
        },
    )
    assert refresh_settings(config) == RefreshSettings(
        history_sessions=250,
        overlap_sessions=5,
        late_retry_sessions=12,
        stale_after=timedelta(minutes=45),
        outlier_zscore=8.0,
        crypto_sampling="daily_close",
    )


def test_the_daily_schedule_is_schedule_time_in_schedule_timezone(tmp_path: Path) -> None:
    """schedule.time and schedule.timezone set when the job runs, on NYSE sessions."""
    config = _config(tmp_path, schedule={"time": "09:15", "timezone": "Europe/London"})
    schedule = daily_schedule(config)
    assert schedule.time_of_day == dt.time(9, 15, tzinfo=ZoneInfo("Europe/London"))
    friday_evening = datetime(2024, 6, 7, 20, 0, tzinfo=UTC)
    assert schedule.next_run(friday_evening) == datetime(
        2024, 6, 10, 9, 15, tzinfo=ZoneInfo("Europe/London")
    ), "Monday, the next session: not the weekend"
