"""{{ cookiecutter.processor_class }}: per-stage on-time, energy and cycles per UTC day.

Reads the normalized ``hvac_power`` dataset of the ``hvac-power`` solution
(timestamp in UTC, power_kw, stage, cycle_id) and writes one DataFrame
artifact, ``"{{ cookiecutter.plugin_name }}/daily_runtime"``, validated by a pandera schema.
"""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
import pandera.pandas as pa

from meshinsights.data_object import PipelineDataObject
from meshinsights.errors import SkipProcessor
from meshinsights.processor import Processor

ARTIFACT = "{{ cookiecutter.plugin_name }}/daily_runtime"
DATASET = "hvac_power"
REQUIRED_COLUMNS = ("timestamp", "power_kw", "stage", "cycle_id")
#: Stages that are not on-time.
IDLE_STAGES = ("off",)


def _is_utc(series: pd.Series) -> bool:
    dtype = series.dtype
    return isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) in ("UTC", "utc")


DAILY_RUNTIME_SCHEMA = pa.DataFrameSchema(
    {
        # Any datetime unit is fine (pandas 3 defaults to microseconds), as long as it is UTC.
        "day": pa.Column(checks=pa.Check(_is_utc, error="must be a tz-aware UTC datetime")),
        "stage": pa.Column(str),
        "runtime_h": pa.Column(float, [pa.Check.ge(0.0), pa.Check.le(24.0)]),
        "energy_kwh": pa.Column(float, pa.Check.ge(0.0)),
        "n_cycles": pa.Column(int, pa.Check.ge(0)),
    },
    unique=["day", "stage"],
    strict=True,
)


def daily_runtime(frame: pd.DataFrame, max_gap_factor: float = 2.5) -> pd.DataFrame:
    """On-time hours, energy (kWh) and cycles seen, per UTC day and stage.

    Each sample lasts until the next one; a step longer than ``max_gap_factor``
    times the median step is a data gap and counts as one median step, so
    missing data never becomes runtime. A sample counts on the day it starts.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(
            f"dataset {DATASET!r} has no column(s) {', '.join(map(repr, missing))} "
            f"(columns present: {', '.join(map(str, frame.columns)) or 'none'})"
        )
    timestamps = frame["timestamp"]
    if not _is_utc(timestamps):
        raise ValueError(
            f"column 'timestamp' of {DATASET!r} must be tz-aware UTC, not {timestamps.dtype}"
        )
    if not timestamps.is_monotonic_increasing:
        raise ValueError(f"column 'timestamp' of {DATASET!r} is not sorted in time")

    step_s = timestamps.diff().shift(-1).dt.total_seconds()
    median_s = float(step_s.median()) if step_s.notna().any() else 0.0
    duration_s = step_s.where(step_s <= max_gap_factor * median_s, median_s)
    stage = frame["stage"].astype(str)
    on = frame["stage"].notna().to_numpy() & ~stage.isin(IDLE_STAGES).to_numpy()
    hours = duration_s / 3600.0
    rows = pd.DataFrame({
        "day": timestamps.dt.floor("D"),
        "stage": stage,
        "hours": hours,
        "kwh": frame["power_kw"].astype(float) * hours,
        "cycle_id": frame["cycle_id"],
    })[on]
    daily = rows.groupby(["day", "stage"], sort=True).agg(
        runtime_h=("hours", "sum"), energy_kwh=("kwh", "sum"), n_cycles=("cycle_id", "nunique"),
    )
    out: pd.DataFrame = daily.reset_index().astype(
        {"runtime_h": float, "energy_kwh": float, "n_cycles": int}
    )
    return out


class {{ cookiecutter.processor_class }}(Processor):
    """Writes ``{{ cookiecutter.plugin_name }}/daily_runtime``: how long each stage ran per day.

    Registered as ``{{ cookiecutter.plugin_name }}``; append it to a run with
    ``extra_processors = ["{{ cookiecutter.plugin_name }}"]``. Built with no arguments
    by MeshInsights, so every setting has a default.
    """

    artifact: ClassVar[str] = ARTIFACT

    def __init__(self, max_gap_factor: float = 2.5) -> None:
        if not max_gap_factor >= 1.0:
            raise ValueError(f"max_gap_factor must be at least 1, got {max_gap_factor!r}")
        self.max_gap_factor = max_gap_factor

    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        data_object.register_artifact_schema(ARTIFACT, DAILY_RUNTIME_SCHEMA)

    def validate_prerequisites(self, data_object: PipelineDataObject) -> bool:
        if DATASET not in data_object.normalized_data:
            raise SkipProcessor(
                f"no {DATASET!r} dataset (this processor reads the hvac-power solution's data)"
            )
        return True

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        frame = data_object.get_dataset(DATASET)
        data_object.set_artifact(ARTIFACT, daily_runtime(frame, self.max_gap_factor))
        return data_object
