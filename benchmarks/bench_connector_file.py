"""File connector benchmark: a few devices out of a large Parquet set, DuckDB vs pandas.

Writes a Parquet data set under a temp directory (default 10,000,000 rows of
1,000 devices in 10 files) twice: sorted by device inside each file (row
groups of 100,000 rows, as a compaction job writes them) and interleaved (raw
arrival order, every device in every row group: the worst case). Then fetches
the rows of 10 devices:

- connector: ``FileConnector`` with ``tables = {power = "power/*.parquet"}`` and
  ``SELECT * FROM power WHERE device_id = ANY($devices)`` (filter pushed into
  the Parquet scan, only the matching rows become a DataFrame);
- baseline:  ``pandas.read_parquet`` of the whole set, then ``isin`` filter.

Both return the same rows (checked). Prints the best of N runs of each and
the ratios; target: connector >= 5x faster on the device-sorted set.

    python benchmarks/bench_connector_file.py            # 10M rows, best of 3
    python benchmarks/bench_connector_file.py --quick    # 1M rows, one run (CI)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from meshinsights import PluginManager

TARGET = 5.0


def write_dataset(
    root: Path, rows: int, devices: int, files: int, layout: str, seed: int = 7
) -> None:
    """``rows`` rows of ``devices`` devices (one per minute each) in ``files`` Parquet files.

    ``sorted``: each file holds a group of devices, ordered by device then
    time, in row groups of 100,000 rows (how a compaction job partitions device
    data); ``interleaved``: each file holds a span of time with every device in
    every row group (raw arrival order: the worst case for skipping).
    """
    rng = np.random.default_rng(seed)
    names = pa.array([f"dev-{i:04d}" for i in range(devices)])
    steps = rows // devices
    stamps = np.datetime64("2024-01-01T00:00:00", "us") + (
        np.arange(steps, dtype="int64") * np.int64(60_000_000)
    )
    (root / "power").mkdir(parents=True)
    for index in range(files):
        if layout == "sorted":
            group = np.arange(index * devices // files, (index + 1) * devices // files,
                              dtype="int32")
            device_index = np.repeat(group, steps)
            ts = np.tile(stamps, len(group))
        else:
            span = stamps[index * steps // files:(index + 1) * steps // files]
            device_index = np.tile(np.arange(devices, dtype="int32"), len(span))
            ts = np.repeat(span, devices)
        table = pa.table({
            "device_id": pa.DictionaryArray.from_arrays(device_index, names).cast(pa.string()),
            "timestamp": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
            "power_kw": rng.gamma(2.0, 1.5, size=len(ts)),
            "voltage": rng.normal(230.0, 2.0, size=len(ts)),
        })
        pq.write_table(table, root / "power" / f"part-{index:03d}.parquet",
                       row_group_size=100_000)


def best_of(repeats: int, work: Callable[[], pd.DataFrame]) -> tuple[float, pd.DataFrame]:
    best, result = float("inf"), pd.DataFrame()
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def measure(layout: str, rows: int, devices: int, repeats: int) -> float:
    """Write the set in ``layout``, time both ways, check they agree; return the speedup."""
    wanted = [f"dev-{i:04d}" for i in range(0, devices, devices // 10)][:10]
    with tempfile.TemporaryDirectory(prefix="bench-file-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        write_dataset(root, rows, devices, files=10, layout=layout)
        size = sum(p.stat().st_size for p in (root / "power").glob("*.parquet"))
        print(f"{layout} layout: {rows:,} rows, {devices:,} devices, 10 files, "
              f"{size / 2**20:.0f} MiB (written in {time.perf_counter() - started:.1f} s)")

        connector = PluginManager.get_plugin(
            "file", root=str(root), tables={"power": "power/*.parquet"}
        )
        query = "SELECT * FROM power WHERE device_id = ANY($devices)"

        def via_connector() -> pd.DataFrame:
            return connector.execute_query(query, {"devices": wanted})

        def via_pandas() -> pd.DataFrame:
            frame = pd.read_parquet(root / "power")
            return frame[frame["device_id"].isin(wanted)].reset_index(drop=True)

        via_connector()  # open the database and the views once, as a pooled connector would
        fast, ours = best_of(repeats, via_connector)
        slow, theirs = best_of(repeats, via_pandas)
        PluginManager.cleanup()

    key = ["device_id", "timestamp"]
    pd.testing.assert_frame_equal(
        ours.sort_values(key).reset_index(drop=True),
        theirs.sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )
    ratio = slow / fast
    print(f"  10 devices, {len(ours):,} rows fetched (same rows both ways)")
    print(f"  connector (DuckDB, pushdown):      {fast * 1000:8.1f} ms")
    print(f"  pandas.read_parquet + isin filter: {slow * 1000:8.1f} ms")
    print(f"  speedup: {ratio:.1f}x")
    return ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1M rows, 100 devices, one run")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--devices", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    devices = args.devices or (100 if args.quick else 1_000)
    repeats = args.repeats or (1 if args.quick else 3)

    sorted_ratio = measure("sorted", rows, devices, repeats)
    interleaved_ratio = measure("interleaved", rows, devices, repeats)
    verdict = "ok" if sorted_ratio >= TARGET else "BELOW TARGET"
    print(f"speedup, device-sorted files: {sorted_ratio:.1f}x (target >= {TARGET:g}x): {verdict}")
    print(f"speedup, interleaved files (worst case, no row group skipping): "
          f"{interleaved_ratio:.1f}x")
    print("reproduce: python benchmarks/bench_connector_file.py"
          + (" --quick" if args.quick else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
