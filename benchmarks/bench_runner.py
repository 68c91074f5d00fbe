"""Runner benchmark: per-device overhead, I/O-CPU overlap and peak memory of Pipeline.

Three parts, each printed as ratios measured in this one run:

(a) overhead  no-op processors over memory-connector sources returning a
              100-row DataFrame: ms per device of ``run_producer_consumer``
              against a hand-written ThreadPoolExecutor + bounded queue.Queue
              producer-consumer doing the same work over the same devices, at
              1,000 and 10,000 devices. Targets: <= 0.25 ms/device, <= 2x the
              baseline, flat from 1k to 10k within 1.2x.
(b) overlap   devices whose fetch sleeps L s and whose processor burns C s of
              pure-Python CPU, with N*L/io_max_workers == N*C over >= 10
              batches: wall time against the ideal max(N*L/io, N*C/cpu) plus one
              batch of fill (target <= 1.10x), and the speedup over
              ``run_batch`` (target >= 1.6x; the ceiling is printed).
(c) memory    peak RSS of a fresh process streaming devices through
              ``Pipeline.iter_batches`` (results not retained) at 1,000 vs
              10,000 devices of the same size (target within 1.3x) and at
              5,000 devices (target under 150 MiB).

    python benchmarks/bench_runner.py            # full sizes, best of 3
    python benchmarks/bench_runner.py --quick    # small sizes, one repeat (CI)
    python benchmarks/bench_runner.py --only overhead|overlap|memory
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from meshinsights import (
    DataNormalizer,
    DataSource,
    DeviceUnit,
    Pipeline,
    PipelineConfig,
    PipelineDataObject,
    PluginManager,
    Processor,
)
from meshinsights.testing import isolated_host

COMMAND = "python benchmarks/bench_runner.py"
ROWS = 100


# ---------------------------------------------------------------- workload parts
def make_table(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "timestamp": pd.date_range("2025-01-01", periods=rows, freq="min", tz="UTC"),
            "power_kw": rng.random(rows) * 5.0,
            "stage": rng.integers(0, 3, rows),
        }
    )


class TableSource(DataSource):
    """Reads the whole ``telemetry`` table of a memory connector (one device's worth)."""

    def __init__(self, tables: Mapping[str, pd.DataFrame], sleep: float = 0.0) -> None:
        super().__init__("telemetry", "memory", {"tables": tables})
        self.sleep = sleep

    def build_query(self) -> str:
        return "telemetry"

    def fetch(self) -> pd.DataFrame:
        if self.sleep:
            time.sleep(self.sleep)  # the wait of a remote query
        return super().fetch()


class Passthrough(DataNormalizer):
    def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
        return data


class NoOp(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        return data_object


def burn(seconds: float) -> int:
    """Pure-Python CPU work (holds the GIL) for about ``seconds``."""
    deadline = time.thread_time() + seconds
    n = 0
    while time.thread_time() < deadline:
        for i in range(200):
            n += i * i
    return n


class Burn(Processor):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        data_object.set_artifact("burn/n", burn(self.seconds))
        return data_object


def factories(
    tables: Mapping[str, pd.DataFrame], sleep: float = 0.0, cpu: float = 0.0
) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any]]:
    def sources(device: DeviceUnit) -> dict[str, DataSource]:
        return {"telemetry": TableSource(tables, sleep)}

    def normalizers(device: DeviceUnit) -> dict[str, DataNormalizer]:
        return {"telemetry": Passthrough()}

    def processors(device: DeviceUnit) -> list[Processor]:
        return [Burn(cpu)] if cpu else [NoOp(), NoOp()]

    return sources, normalizers, processors


def devices(n: int) -> list[DeviceUnit]:
    return [DeviceUnit(f"dev-{i:06d}") for i in range(n)]


# ---------------------------------------------------------------- baseline
def baseline_producer_consumer(
    fleet: Sequence[DeviceUnit],
    make_sources: Callable[..., Any],
    make_normalizers: Callable[..., Any],
    make_processors: Callable[..., Any],
    *,
    batch_size: int,
    io_workers: int,
    queue_size: int = 2,
) -> dict[str, PipelineDataObject]:
    """The hand-written reference: an I/O pool feeding a bounded queue, one consumer."""
    q: queue.Queue[list[tuple[DeviceUnit, dict[str, pd.DataFrame]]] | None] = queue.Queue(queue_size)

    def fetch(device: DeviceUnit) -> tuple[DeviceUnit, dict[str, pd.DataFrame]]:
        normalizers = make_normalizers(device)
        return device, {
            name: normalizers[name].normalize(source.fetch(), {})
            for name, source in make_sources(device).items()
        }

    def produce(pool: ThreadPoolExecutor) -> None:
        for i in range(0, len(fleet), batch_size):
            q.put(list(pool.map(fetch, fleet[i : i + batch_size])))
        q.put(None)

    results: dict[str, PipelineDataObject] = {}
    with ThreadPoolExecutor(io_workers) as pool:
        producer = threading.Thread(target=produce, args=(pool,))
        producer.start()
        while (batch := q.get()) is not None:
            for device, datasets in batch:
                data_object = PipelineDataObject("baseline", {"device_id": device.device_id})
                data_object.load_normalized_data(datasets, freeze=True)
                for processor in make_processors(device):
                    processor(data_object)
                results[device.device_id] = data_object
        producer.join()
    return results


# ---------------------------------------------------------------- (a) overhead
def bench_overhead(sizes: Sequence[int], repeats: int, batch_size: int, io_workers: int) -> bool:
    tables = {"telemetry": make_table()}
    make = factories(tables)
    config = PipelineConfig(
        pipeline_name="bench", batch_size=batch_size, io_max_workers=io_workers,
        cpu_max_workers=1, log_level="WARNING", retain_normalized_data=False,
    )
    print(f"## (a) runner overhead: {ROWS}-row memory sources, 2 no-op processors, "
          f"batch_size={batch_size}, io_max_workers={io_workers}, cpu_max_workers=1")
    print(f"{'devices':>8} {'runner ms/dev':>14} {'baseline ms/dev':>16} {'ratio':>7}")
    Pipeline(*make, config=config).run_producer_consumer(devices(200))  # warm-up
    fleets = {n: devices(n) for n in sizes}
    walls: dict[tuple[str, int], list[float]] = {}
    # Every sample covers the same number of devices (10 runs of 1,000, 1 run of 10,000),
    # sizes and variants interleaved, each the best of `repeats`: a busy moment on the
    # machine then hits every case alike instead of favouring the shorter runs.
    total = max(sizes)
    for _ in range(repeats):
        for n, fleet in fleets.items():
            runs = total // n
            gc.collect()
            started = time.perf_counter()
            for _ in range(runs):
                results = Pipeline(*make, config=config).run_producer_consumer(fleet)
                assert len(results.successful_devices) == n, results.summary()
            walls.setdefault(("runner", n), []).append((time.perf_counter() - started) / runs)
            del results
            gc.collect()
            started = time.perf_counter()
            for _ in range(runs):
                base = baseline_producer_consumer(
                    fleet, *make, batch_size=batch_size, io_workers=io_workers
                )
                assert len(base) == n
            walls.setdefault(("baseline", n), []).append((time.perf_counter() - started) / runs)
            del base
            PluginManager.cleanup()
    per_device: dict[int, float] = {}
    ok = True
    for n in sizes:
        runner_ms = min(walls["runner", n]) / n * 1e3
        base_ms = min(walls["baseline", n]) / n * 1e3
        per_device[n] = runner_ms
        ratio = runner_ms / base_ms
        ok &= runner_ms <= 0.25 and ratio <= 2.0
        print(f"{n:>8} {runner_ms:>14.4f} {base_ms:>16.4f} {ratio:>7.2f}")
    if len(sizes) > 1:
        flat = per_device[sizes[-1]] / per_device[sizes[0]]
        ok &= flat <= 1.2
        print(f"flatness {sizes[-1]}/{sizes[0]} devices: {flat:.2f}x (target <= 1.2x)")
    print("targets: <= 0.25 ms/device, <= 2x baseline ->", "ok" if ok else "MISSED")
    return ok


# ---------------------------------------------------------------- (b) overlap
def bench_overlap(
    n: int, batch_size: int, io_workers: int, cpu_seconds: float, repeats: int
) -> bool:
    io_seconds = cpu_seconds * io_workers  # N*L/io_workers == N*C
    tables = {"telemetry": make_table()}
    make = factories(tables, sleep=io_seconds, cpu=cpu_seconds)
    config = PipelineConfig(
        pipeline_name="bench", batch_size=batch_size, io_max_workers=io_workers,
        cpu_max_workers=1, log_level="WARNING",
    )
    fleet = devices(n)
    batches = -(-n // batch_size)
    io_total = n * io_seconds / io_workers
    cpu_total = n * cpu_seconds
    fill = batch_size * io_seconds / io_workers
    ideal = max(io_total, cpu_total) + fill
    print(f"## (b) overlap: N={n}, L={io_seconds * 1e3:.0f} ms sleep per fetch, "
          f"C={cpu_seconds * 1e3:.0f} ms pure-Python CPU per device, batch_size={batch_size} "
          f"({batches} batches), io_max_workers={io_workers}, cpu_max_workers=1, "
          f"best of {repeats}")
    pipeline = Pipeline(*make, config=config)
    pipeline.run_producer_consumer(devices(2))  # warm-up
    walls: dict[str, list[float]] = {"pc": [], "batch": [], "baseline": []}
    for _ in range(repeats):  # interleaved, so a busy moment hits every variant alike
        started = time.perf_counter()
        overlapped = pipeline.run_producer_consumer(fleet)
        walls["pc"].append(time.perf_counter() - started)
        started = time.perf_counter()
        sequential = pipeline.run_batch(fleet)
        walls["batch"].append(time.perf_counter() - started)
        started = time.perf_counter()
        base = baseline_producer_consumer(fleet, *make, batch_size=batch_size, io_workers=io_workers)
        walls["baseline"].append(time.perf_counter() - started)
        assert len(overlapped.successful_devices) == len(sequential.successful_devices) == n
        assert len(base) == n
    pc_wall, batch_wall, base_wall = (min(walls[k]) for k in ("pc", "batch", "baseline"))
    ceiling = (io_total + cpu_total) / ideal
    versus_ideal = pc_wall / ideal
    speedup = batch_wall / pc_wall
    print(f"ideal max(N*L/io, N*C/cpu) + one batch of fill: {ideal:.3f} s")
    print(f"run_producer_consumer:  {pc_wall:.3f} s = {versus_ideal:.3f}x ideal (target <= 1.10x)")
    print(f"hand-written baseline:  {base_wall:.3f} s = {base_wall / ideal:.3f}x ideal")
    print(f"run_batch:              {batch_wall:.3f} s = {batch_wall / ideal:.3f}x ideal")
    print(f"speedup over run_batch: {speedup:.2f}x (target >= 1.6x, ceiling {ceiling:.2f}x)")
    ok = versus_ideal <= 1.10 and speedup >= 1.6
    print("targets ->", "ok" if ok else "MISSED")
    return ok


# ---------------------------------------------------------------- (c) memory
def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB.

    Linux's VmHWM starts afresh at exec; ru_maxrss of a child can start at
    the parent's size at fork time, so it is only the fallback.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_case(n: int, batch_size: int, io_workers: int) -> dict[str, float]:
    """Run in a fresh process: stream ``n`` devices, keep only counts."""
    tables = {"telemetry": make_table()}
    make = factories(tables)
    config = PipelineConfig(
        pipeline_name="bench", batch_size=batch_size, io_max_workers=io_workers,
        log_level="WARNING", retain_normalized_data=False,
    )
    before = peak_rss_mib()
    ok = 0
    with isolated_host():
        for batch in Pipeline(*make, config=config).iter_batches(devices(n)):
            ok += len(batch.successful_devices)
    assert ok == n
    peak = peak_rss_mib()
    return {"devices": n, "peak_mib": peak, "baseline_mib": before}


def run_memory_case(n: int, batch_size: int, io_workers: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-case", str(n), "--batch-size", str(batch_size),
         "--io-workers", str(io_workers)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def bench_memory(sizes: Sequence[int], batch_size: int, io_workers: int) -> bool:
    print(f"## (c) memory: peak RSS of a fresh process streaming with iter_batches, "
          f"batch_size={batch_size}, io_max_workers={io_workers}, {ROWS} rows per device")
    print(f"{'devices':>8} {'peak MiB':>9} {'after imports MiB':>18}")
    peaks: dict[int, float] = {}
    for n in sizes:
        case = run_memory_case(n, batch_size, io_workers)
        peaks[n] = case["peak_mib"]
        print(f"{n:>8} {case['peak_mib']:>9.1f} {case['baseline_mib']:>18.1f}")
    small, large = min(sizes), max(sizes)
    growth = peaks[large] / peaks[small]
    ok = growth <= 1.3
    print(f"peak RSS {large}/{small} devices: {growth:.3f}x (target <= 1.3x)")
    if 5000 in peaks:
        ok &= peaks[5000] < 150
        print(f"peak RSS at 5000 devices: {peaks[5000]:.1f} MiB (target < 150 MiB)")
    print("targets ->", "ok" if ok else "MISSED")
    return ok


# ---------------------------------------------------------------- main
def load_average() -> str:
    """Other work on the machine skews every number here: say how busy it was."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat (CI)")
    parser.add_argument("--only", choices=["overhead", "overlap", "memory"])
    parser.add_argument("--memory-case", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument("--io-workers", type=int, default=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.getLogger("meshinsights").setLevel(logging.WARNING)
    if args.memory_case is not None:
        print(json.dumps(memory_case(args.memory_case, args.batch_size, args.io_workers)))
        return 0
    print(f"# {COMMAND}{' --quick' if args.quick else ''}"
          f"{' --only ' + args.only if args.only else ''}   (python {sys.version.split()[0]}, "
          f"pandas {pd.__version__}, {os.cpu_count()} cores, load average {load_average()})")
    if args.quick:
        print("# --quick proves the benchmark runs; its sizes are too small for the targets,"
              " which apply to the full run")
    with isolated_host():  # core's built-in plugins only
        run_parts(args)
    return 0


def reproduce(part: str, quick: bool) -> None:
    print(f"\n# reproduce: {COMMAND} --only {part}{' --quick' if quick else ''}")


def run_parts(args: argparse.Namespace) -> None:
    if args.only in (None, "overhead"):
        sizes = [200, 2000] if args.quick else [1000, 10000]
        reproduce("overhead", args.quick)
        bench_overhead(sizes, repeats=1 if args.quick else 5, batch_size=100, io_workers=4)
    if args.only in (None, "overlap"):
        reproduce("overlap", args.quick)
        if args.quick:
            bench_overlap(n=40, batch_size=4, io_workers=4, cpu_seconds=0.002, repeats=1)
        else:
            bench_overlap(n=200, batch_size=20, io_workers=4, cpu_seconds=0.005, repeats=3)
    if args.only in (None, "memory"):
        sizes = [200, 1000] if args.quick else [1000, 5000, 10000]
        reproduce("memory", args.quick)
        bench_memory(sizes, batch_size=100, io_workers=4)


if __name__ == "__main__":
    sys.exit(main())
