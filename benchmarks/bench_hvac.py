"""HVAC chain throughput: the six processors on one device-month of 1-minute data.

Prints, from one run: rows per second of the chain (artifact schema
validation included) and its ratio to one ``groupby("stage")["power_kw"].median()``
over the same frame, time per row for one week against twelve months, and
time against rows from one week to a year (a fixed cost per device and a cost
per row, fitted).

    python benchmarks/bench_hvac.py          # full
    python benchmarks/bench_hvac.py --quick  # CI: proves it runs
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from meshinsights import DeviceUnit
from meshinsights_hvac.demo import generate_fleet_frames
from meshinsights_hvac.factories import create_hvac_data_object, create_hvac_processors
from meshinsights_hvac.normalizers import PowerDataNormalizer


def normalized_device(days: int, seed: int = 3) -> pd.DataFrame:
    """One clean two-stage device's normalized ``hvac_power`` dataset."""
    fleet = generate_fleet_frames(n_devices=1, days=days, seed=seed)
    return PowerDataNormalizer().normalize(fleet.power, {})


def run_chain(data: pd.DataFrame) -> object:
    device = DeviceUnit("bench", {})
    data_object = create_hvac_data_object("bench", "bench", {})
    data_object.load_normalized_data({"hvac_power": data}, freeze=True)
    for processor in create_hvac_processors(device):
        processor(data_object)
    if data_object.errors or any(w.component == "schema" for w in data_object.warnings):
        raise SystemExit(f"chain failed: {data_object.errors or data_object.warnings}")
    return data_object


def best_of_paired(funcs: list[Callable[[], object]], repeat: int) -> list[float]:
    """Typical time of each function, their runs interleaved so that all see the same load."""
    for func in funcs:
        func()
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(repeat):
        for func, spent in zip(funcs, times, strict=True):
            started = time.perf_counter()
            func()
            spent.append(time.perf_counter() - started)
    return [statistics.median(sorted(t)[: len(t) // 2 + 1]) if len(t) >= 5 else min(t)
            for t in times]


def growth_curve(days: list[int], repeat: int) -> None:
    """Time against rows over several lengths: a per-device fixed cost and a cost per row.

    Fitted by least squares on relative residuals (time = fixed + rows x per_row)
    on the runs measured together, so that the short runs weigh as much as the
    long ones; the residual of each length says whether the growth is linear.
    """
    data = [normalized_device(d) for d in days]
    times = best_of_paired([partial(run_chain, frame) for frame in data], repeat)
    rows = np.array([len(frame) for frame in data], dtype=float)
    seconds = np.array(times)
    per_row, fixed = np.polyfit(rows, seconds, 1, w=1 / seconds)  # relative residuals
    print("growth with rows (time = fixed + rows x per_row, relative least squares): "
          f"fixed {fixed * 1e3:.2f} ms per device, {per_row * 1e9:.0f} ns per row")
    for d, n, t in zip(days, rows, seconds, strict=True):
        fit = fixed + per_row * n
        print(f"  {d:>3} days {int(n):>7} rows {t * 1e3:8.2f} ms {t / n * 1e9:6.0f} ns/row "
              f"(fit {fit * 1e3:8.2f} ms, {100 * (t - fit) / fit:+5.1f} %)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, short year (CI)")
    args = parser.parse_args()
    repeat = 3 if args.quick else 30

    month = normalized_device(30)
    summary = run_chain(month).get_artifact("cycles/summary")  # type: ignore[attr-defined]
    chain_s, groupby_s = best_of_paired(
        [lambda: run_chain(month),
         lambda: month.groupby("stage", observed=True)["power_kw"].median()],
        repeat,
    )
    rows = len(month)
    print(f"device-month: {rows} rows, {len(summary)} cycles")
    print(f"six-processor chain: {chain_s * 1e3:.2f} ms = {rows / chain_s / 1e6:.2f} M rows/s "
          "(target >= 1.5)")
    print(f"groupby('stage')['power_kw'].median(): {groupby_s * 1e3:.3f} ms")
    print(f"chain / groupby-median: {chain_s / groupby_s:.1f}x (target <= 20)")

    week = normalized_device(7)
    year = normalized_device(60 if args.quick else 365)
    week_s, year_s = best_of_paired(
        [lambda: run_chain(week), lambda: run_chain(year)], 3 if args.quick else 15
    )
    per_week = week_s / len(week)
    per_year = year_s / len(year)
    print(f"1 week: {len(week)} rows, {per_week * 1e9:.0f} ns/row; "
          f"{'60 days' if args.quick else '12 months'}: {len(year)} rows, {per_year * 1e9:.0f} ns/row")
    print(f"time per row, week / year: {per_week / per_year:.2f}x (target <= 1.3)")
    growth_curve([7, 30] if args.quick else [7, 30, 91, 182, 365], 3 if args.quick else 9)
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
          + " on " + str(os.cpu_count()) + " cores (other jobs inflate absolute times)")
    print("reproduce: python benchmarks/bench_hvac.py" + (" --quick" if args.quick else ""))


if __name__ == "__main__":
    main()
