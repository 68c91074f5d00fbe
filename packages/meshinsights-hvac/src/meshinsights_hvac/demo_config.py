"""``meshinsights demo`` for hvac-power: a generated fleet and a run config that reads it."""

from __future__ import annotations

from pathlib import Path

from meshinsights_hvac.demo import generate_fleet

DEMO_DAYS = 30

DEMO_CONFIG = """\
# A run config for the generated demo fleet: edit it and pass it to `meshinsights run`.
[pipeline]
solution = "hvac-power"
name = "hvac_power_demo"
batch_size = 10
io_max_workers = 2
cpu_max_workers = 1

[connection]                  # DuckDB over the generated Parquet files
plugin = "file"
root = "data"                 # relative to this file
tables = {{ power = "power/*.parquet" }}

[devices]
csv = "data/devices.csv"      # device_id, location_id, control_id, start_date, end_date

[hvac]                        # any HVACParams default can be overridden here
min_cycles_per_stage = 5

[output]
dir = "results"
formats = ["csv", "parquet", "html"]
"""


def write_demo(out_dir: Path, n_devices: int, seed: int) -> Path:
    """Generate ``n_devices`` x 30 days into ``out_dir/data`` and write ``out_dir/demo.toml``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    generate_fleet(n_devices=n_devices, days=DEMO_DAYS, seed=seed, out_dir=out_dir / "data")
    config = out_dir / "demo.toml"
    config.write_text(DEMO_CONFIG.format(), encoding="utf-8")
    return config
