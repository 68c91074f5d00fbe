"""A batch's DataFrame artifacts as Parquet: one dataset per key, one folder per device.

Per key, the batch's frames become one Arrow table (one pandas conversion
instead of one per device: each costs about a millisecond even for a
three-row frame, several times that beside a busy pipeline), and each
device's file is written from its slice of that table (no copy; Parquet
encoding runs in C++ with the GIL released). Each file is written under a
hidden temporary name (``.tmp-*``, which dataset readers skip) and renamed
into place, replacing an earlier run's folder: a run killed meanwhile leaves
whole files or hidden leftovers, never a partial file in the dataset.

Frames that cannot share a table (their dtypes differ between devices) are
converted one by one; the files are the same either way.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: The name of each device's folder: ``device=<name>/part-0.parquet``.
PARTITION = "device"
FILE_NAME = "part-0.parquet"
TEMPORARY_PREFIX = ".tmp-"


def write_key(
    key_dir: Path, frames: Mapping[str, pd.DataFrame], folders: Mapping[str, str]
) -> dict[str, Path]:
    """Write each device's frame (with a ``device_id`` column) to
    ``key_dir/device=<folders[device]>/part-0.parquet``; the files by device."""
    tables = _tables(frames)
    return {device: _write_file(key_dir, folders[device], table)
            for device, table in tables.items()}


def _tables(frames: Mapping[str, pd.DataFrame]) -> dict[str, Any]:
    """Each device's frame with its ``device_id`` as an Arrow table, converted together
    when the frames share their columns and dtypes."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    values = list(frames.values())
    if len(values) < 2 or not _same_dtypes(values):
        return {device: pa.Table.from_pandas(frame.assign(device_id=device),
                                             preserve_index=False, nthreads=1)
                for device, frame in frames.items()}
    lengths = [len(frame) for frame in values]
    together = pd.concat(values, ignore_index=True)
    together["device_id"] = np.repeat(np.array(list(frames), dtype=object), lengths)
    table = pa.Table.from_pandas(together, preserve_index=False, nthreads=1)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return {device: table.slice(int(start), length)
            for device, start, length in zip(frames, starts, lengths, strict=True)}


def _same_dtypes(frames: list[pd.DataFrame]) -> bool:
    first = frames[0]
    return all(
        list(frame.columns) == list(first.columns) and frame.dtypes.equals(first.dtypes)
        for frame in frames[1:]
    )


def _write_file(key_dir: Path, folder: str, table: Any) -> Path:
    import pyarrow.parquet as pq

    target_dir = key_dir / f"{PARTITION}={folder}"
    if target_dir.exists():
        shutil.rmtree(target_dir)  # a rerun replaces the device's earlier files
    target_dir.mkdir(parents=True)
    target = target_dir / FILE_NAME
    temp = target_dir / f"{TEMPORARY_PREFIX}{FILE_NAME}"
    pq.write_table(table, temp)
    os.replace(temp, target)
    return target
