"""The demo fleet on disk: files of whole devices, row groups of whole devices, same rows."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from meshinsights_hvac import demo


@pytest.fixture
def small_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small enough limits that 35 two-day devices span several files and row groups."""
    monkeypatch.setattr(demo, "DEVICES_PER_FILE", 20)
    monkeypatch.setattr(demo, "ROW_GROUP_ROWS", 7_000)


def _read(paths: list[str], fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
    frame = pd.concat([pd.read_csv(p, dtype={"location_id": "str", "control_id": "str"})
                       for p in paths], ignore_index=True)
    return frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_files_hold_whole_devices_and_every_row(
    small_files: None, tmp_path: Path, fmt: str
) -> None:
    written = demo.generate_fleet(35, 2, seed=4, out_dir=tmp_path, fmt=fmt)
    expected = demo.generate_fleet_frames(35, 2, seed=4).power

    assert [Path(p).name for p in written["power"]] == [f"part-00000.{fmt}", f"part-00001.{fmt}"]
    got = _read(written["power"], fmt)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    per_file = [_read([p], fmt)["control_id"].nunique() for p in written["power"]]
    assert per_file == [20, 15]


def test_row_groups_are_whole_devices_of_at_least_the_target_size(
    small_files: None, tmp_path: Path
) -> None:
    written = demo.generate_fleet(35, 2, seed=4, out_dir=tmp_path)

    for path in written["power"]:
        parquet = pq.ParquetFile(path)
        groups = [parquet.read_row_group(i, columns=["control_id"]).column(0).to_pylist()
                  for i in range(parquet.num_row_groups)]
        assert len(groups) >= 2, path
        assert all(len(g) >= 7_000 for g in groups[:-1])
        devices = [set(g) for g in groups]
        for first, second in itertools.pairwise(devices):
            assert not first & second, "a device split across row groups"


def test_a_device_longer_than_a_row_group_is_one_row_group(
    small_files: None, tmp_path: Path
) -> None:
    written = demo.generate_fleet(3, 10, seed=4, out_dir=tmp_path)  # 14,400 rows a device

    parquet = pq.ParquetFile(written["power"][0])
    sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
    assert len(sizes) == 3
    assert all(size > 7_000 for size in sizes)
