"""Real files in a temp root: Parquet partitions, a CSV, and files outside the root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meshinsights import PluginManager

DEVICES = [f"dev-{i:02d}" for i in range(6)]
ROWS_PER_DEVICE_DAY = 24


def power_frame(day: str) -> pd.DataFrame:
    """Hourly rows per device for one day, with a NULL and a non-ASCII site name."""
    hours = pd.date_range(day, periods=ROWS_PER_DEVICE_DAY, freq="h", tz="UTC")
    frame = pd.DataFrame(
        {
            "device_id": np.repeat(DEVICES, len(hours)),
            "timestamp": np.tile(hours, len(DEVICES)),
            "power_kw": np.arange(len(DEVICES) * len(hours), dtype="float64") / 10,
            "site": np.repeat([f"Zürich-{i}" for i in range(len(DEVICES))], len(hours)),
        }
    )
    frame.loc[3, "power_kw"] = np.nan
    return frame


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "power").mkdir(parents=True)
    for day in ("2024-01-01", "2024-01-02"):
        power_frame(day).to_parquet(root / "power" / f"{day}.parquet", index=False)
    devices = pd.DataFrame({"device_id": DEVICES, "floor": range(len(DEVICES))})
    devices.to_csv(root / "devices.csv", index=False)
    outside = tmp_path / "outside"
    outside.mkdir()
    power_frame("2024-01-01").to_parquet(outside / "secret.parquet", index=False)
    # A sibling whose name starts with the root's: must not count as inside.
    (tmp_path / "root-other").mkdir()
    power_frame("2024-01-01").to_parquet(tmp_path / "root-other" / "x.parquet", index=False)
    return root


@pytest.fixture
def file_config(data_root: Path) -> dict[str, object]:
    return {"root": str(data_root), "tables": {"power": "power/*.parquet",
                                              "devices": "devices.csv"}}


@pytest.fixture
def pooled() -> Iterator[None]:
    try:
        yield
    finally:
        PluginManager.cleanup()
