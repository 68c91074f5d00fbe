"""A batch's DataFrame artifacts: one dataset per key, one folder and file per device."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from meshinsights.artifact_files import write_key
from meshinsights.ledger import Ledger, safe_name


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "stage": pd.Categorical(rng.choice(["cool1", "heat1"], n), categories=["cool1", "heat1"]),
        "start": pd.date_range("2025-01-01", periods=n, freq="min", tz="UTC", unit="us"),
        "median_kw": rng.random(n),
        "n_rows": rng.integers(0, 100, n),
        "label": pd.array([f"c-{i}" for i in range(n)], dtype="str"),
    })


def _alone(tmp: Path, device: str, frame: pd.DataFrame) -> pd.DataFrame:
    """What one device's frame reads back as when written by itself, the way pandas does."""
    path = tmp / f"{safe_name(device)}.parquet"
    frame.assign(device_id=device).to_parquet(path, index=False)
    return pd.read_parquet(path)


def _files(key_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(key_dir)) for p in key_dir.rglob("*") if p.is_file())


def test_a_batch_is_one_file_per_device_equal_to_writing_each_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def one_by_one(*_: object, **__: object) -> None:
        raise AssertionError("frames of one dtype are converted together, not one by one")

    frames = {"d/1": _frame(5, 1), "d 2": _frame(3, 2), "d3": _frame(50_000, 3),
              "none": _frame(0, 4)}
    expected = {device: _alone(tmp_path, device, frame) for device, frame in frames.items()}
    monkeypatch.setattr(pd.DataFrame, "assign", one_by_one)  # the one-by-one path's step
    folders = {d: safe_name(d) for d in frames}
    written = write_key(tmp_path / "key", frames, folders)
    assert _files(tmp_path / "key") == sorted(
        f"device={safe_name(d)}/part-0.parquet" for d in frames)
    for device, frame in frames.items():
        assert written[device] == tmp_path / "key" / f"device={safe_name(device)}/part-0.parquet"
        got = pd.read_parquet(written[device])
        pd.testing.assert_frame_equal(got, expected[device])
        assert "device" not in pq.read_schema(written[device]).names  # the folder says it
        assert pq.read_metadata(written[device]).num_rows == len(frame)  # its slice only
    # the key's folder reads as one dataset, each row with its device
    table = ds.dataset(tmp_path / "key", partitioning="hive").to_table().to_pandas()
    assert table.groupby("device_id").size().to_dict() == {
        d: len(f) for d, f in frames.items() if len(f)}


def test_frames_of_other_dtypes_or_without_rows_are_written_one_by_one(tmp_path: Path) -> None:
    other = _frame(4, 5).assign(n_rows=lambda f: f["n_rows"].astype("float64"))
    frames = {"a": _frame(4, 4), "b": other, "empty": _frame(0, 6)}  # b: float n_rows
    written = write_key(tmp_path / "key", frames, {d: d for d in frames})
    for device, frame in frames.items():
        pd.testing.assert_frame_equal(pd.read_parquet(written[device]),
                                      _alone(tmp_path, device, frame))
    assert len(pd.read_parquet(written["empty"])) == 0  # a file with the columns, no rows
    assert not list((tmp_path / "key").glob(".tmp-*"))


def test_a_rerun_replaces_the_devices_folder(tmp_path: Path) -> None:
    key_dir = tmp_path / "key"
    write_key(key_dir, {"a": _frame(3, 1), "b": _frame(3, 2)}, {"a": "a", "b": "b"})
    stale = key_dir / "device=a" / "part-1.parquet"
    stale.write_bytes(b"from an earlier layout")
    written = write_key(key_dir, {"a": _frame(7, 3), "b": _frame(2, 4)}, {"a": "a", "b": "b"})
    assert not stale.exists()
    assert len(pd.read_parquet(written["a"])) == 7
    assert _files(key_dir) == ["device=a/part-0.parquet", "device=b/part-0.parquet"]


def test_a_frame_arrow_cannot_convert_fails_and_leaves_the_dataset_as_it_was(
    tmp_path: Path,
) -> None:
    key_dir = tmp_path / "key"
    write_key(key_dir, {"a": _frame(3, 1), "b": _frame(3, 2)}, {"a": "a", "b": "b"})
    before = {p: p.read_bytes() for p in key_dir.rglob("*.parquet")}
    bad = {d: pd.DataFrame({"x": pd.array([1, "two", 3.0], dtype=object)}) for d in ("a", "b")}
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError), match="two"):
        write_key(key_dir, bad, {"a": "a", "b": "b"})
    assert {p: p.read_bytes() for p in key_dir.rglob("*.parquet")} == before
    assert not list(key_dir.glob(".tmp-*"))


def test_a_killed_runs_temporary_file_is_never_read_and_is_removed(tmp_path: Path) -> None:
    key_dir = tmp_path / "artifacts" / "key"
    write_key(key_dir, {"a": _frame(3, 1), "b": _frame(3, 2)}, {"a": "a", "b": "b"})
    leftover = key_dir / "device=c" / ".tmp-part-0.parquet"
    leftover.parent.mkdir()
    leftover.write_bytes(b"half a file")
    # dataset readers skip hidden files: the dataset still reads
    assert len(ds.dataset(key_dir, partitioning="hive").to_table()) == 6
    Ledger(tmp_path).clean_temporaries()
    assert not leftover.exists()
    assert not list(key_dir.rglob(".tmp-*"))
