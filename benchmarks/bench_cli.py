"""CLI start-up: `meshinsights --help` and `meshinsights plugins` with every package installed.

Targets: --help under 0.3 s (no pandas on that path), plugins under 1.5 s
(importing pandas alone costs about 0.45 s on a 2-core machine).

    python benchmarks/bench_cli.py            # 10 runs each, best and median
    python benchmarks/bench_cli.py --quick    # 2 runs each (CI)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
    "python -c 'import pandas'": [sys.executable, "-c", "import pandas"],
    "meshinsights --help": [sys.executable, "-m", "meshinsights.cli", "--help"],
    "meshinsights plugins": [sys.executable, "-m", "meshinsights.cli", "plugins"],
}
TARGETS = {"meshinsights --help": 0.3, "meshinsights plugins": 1.5}


def timed(command: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs per command (CI)")
    args = parser.parse_args()
    runs = 2 if args.quick else 10
    print(f"# {' '.join(['python', *sys.argv])}  ({runs} runs each)")
    print(f"{'command':40} {'best s':>8} {'median s':>9} {'target s':>9}  verdict")
    best_of: dict[str, float] = {}
    for label, command in COMMANDS.items():
        times = timed(command, runs)
        best, median = min(times), statistics.median(times)
        best_of[label] = best
        target = TARGETS.get(label)
        verdict = "" if target is None else ("ok" if best <= target else "MISSED")
        print(f"{label:40} {best:8.3f} {median:9.3f} {target or '':>9}  {verdict}")
    # On a loaded machine every start-up slows down alike: the ratios stay meaningful.
    pandas_s = best_of["python -c 'import pandas'"]
    print(f"--help / import pandas: {best_of['meshinsights --help'] / pandas_s:.2f}x "
          f"(target 0.3 s / 0.45 s = 0.67x)")
    print(f"plugins / import pandas: {best_of['meshinsights plugins'] / pandas_s:.2f}x "
          f"(target 1.5 s / 0.45 s = 3.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
