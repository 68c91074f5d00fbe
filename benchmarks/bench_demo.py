"""`meshinsights demo` at two fleet sizes: peak memory and devices per second.

Target: peak RSS at 1,000 devices within 1.3x of 100 devices (results stream
to the ledger batch by batch; the fleet is generated part by part).

    python benchmarks/bench_demo.py            # 100 vs 1,000 devices (several minutes)
    python benchmarks/bench_demo.py --quick    # 20 vs 60 devices (CI)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEASURE = """
import resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if result.returncode not in (0, 1):
    sys.stderr.write(result.stderr)
    sys.exit(result.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def run_demo(devices: int, out: Path) -> tuple[float, float, dict[str, object]]:
    """Wall seconds, peak RSS in MiB of the demo process, and its manifest."""
    command = [sys.executable, "-m", "meshinsights", "--log-level", "WARNING", "demo",
               "--devices", str(devices), "--out", str(out)]
    started = time.perf_counter()
    measured = subprocess.run([sys.executable, "-c", MEASURE, *command],
                              capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    peak_mib = int(measured.stdout.strip().splitlines()[-1]) / 1024
    manifest = json.loads((out / "results" / "manifest.json").read_text())
    return wall, peak_mib, manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 vs 60 devices (CI)")
    args = parser.parse_args()
    small, large = (20, 60) if args.quick else (100, 1000)
    print(f"# python benchmarks/bench_demo.py{' --quick' if args.quick else ''}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for devices in (small, large):
            wall, peak, manifest = run_demo(devices, Path(tmp) / f"demo-{devices}")
            timing = manifest["timing"]
            assert isinstance(timing, dict)
            pipeline_s = float(timing["wall_time_s"])
            rows.append((devices, wall, pipeline_s, devices / pipeline_s, peak,
                         float(timing["overlap_fraction"])))
    print(f"{'devices':>8} {'demo s':>8} {'pipeline s':>11} {'devices/s':>10} "
          f"{'peak RSS MiB':>13} {'overlap':>8}")
    for devices, wall, pipeline_s, rate, peak, overlap in rows:
        print(f"{devices:>8} {wall:>8.1f} {pipeline_s:>11.1f} {rate:>10.1f} {peak:>13.0f} {overlap:>8.0%}")
    ratio = rows[1][4] / rows[0][4]
    print(f"peak memory {large} / {small} devices: {ratio:.2f}x (target <= 1.3x)")
    print(f"devices per second {large} / {small}: {rows[1][3] / rows[0][3]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
