"""HVACResultsAdapter: one row per device and stage (spec section 5)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from meshinsights.data_object import PipelineDataObject
from meshinsights.results import BatchResults, ResultsAdapter
from meshinsights_hvac.data_object import HVACPipelineDataObject as Keys
from meshinsights_hvac.params import STAGES

COLUMNS: tuple[str, ...] = (
    "device_id", "location_id", "status", "stage", "n_cycles", "n_valid_cycles",
    "n_short_cycles", "baseline_kw", "lower_kw", "upper_kw", "variance_class",
    "cycle_median_class", "issues", "n_errors", "n_warnings", "first_error",
)
DTYPES: dict[str, str] = {
    "device_id": "str", "location_id": "str", "status": "str", "stage": "str",
    "n_cycles": "Int64", "n_valid_cycles": "Int64", "n_short_cycles": "Int64",
    "baseline_kw": "float64", "lower_kw": "float64", "upper_kw": "float64",
    "variance_class": "str", "cycle_median_class": "str", "issues": "str",
    "n_errors": "int64", "n_warnings": "int64", "first_error": "str",
}


def _frame(dobj: PipelineDataObject, key: str) -> pd.DataFrame | None:
    value = dobj.get_artifact(key)
    return value if isinstance(value, pd.DataFrame) else None


def _by_stage(frame: pd.DataFrame | None, column: str) -> dict[str, Any]:
    if frame is None or frame.empty or column not in frame.columns:
        return {}
    return dict(zip(frame["stage"].astype(str), frame[column].astype(object), strict=True))


class HVACResultsAdapter(ResultsAdapter):
    """Device x stage table: cycles, baseline band, classes and issues, errors and warnings."""

    columns = COLUMNS

    def rows(self, results: BatchResults) -> Iterable[dict[str, Any]]:
        for device_id, dobj in results.device_results.items():
            yield from self.device_rows(device_id, dobj)

    def device_rows(self, device_id: str, dobj: PipelineDataObject) -> list[dict[str, Any]]:
        source = dobj.data_sources.get(Keys.DATASET_POWER, {})
        common = {
            "device_id": device_id,
            "location_id": source.get("location_id", dobj.config.get("location_id")),
            "status": dobj.status,
            "n_errors": len(dobj.errors),
            "n_warnings": len(dobj.warnings),
            "first_error": dobj.errors[0].message if dobj.errors else None,
        }
        summary = _frame(dobj, Keys.ARTIFACT_CYCLE_SUMMARY)
        counts: dict[str, dict[str, int]] = {}
        if summary is not None and not summary.empty:
            grouped = summary.assign(stage=summary["stage"].astype(str)).groupby("stage")
            agg = grouped.agg(n=("valid", "size"), v=("valid", "sum"), s=("short_cycle", "sum"))
            counts = {str(k): {"n": int(r.n), "v": int(r.v), "s": int(r.s)}
                      for k, r in agg.iterrows()}
        thresholds = dobj.get_artifact(Keys.ARTIFACT_BASELINE_THRESHOLDS) or {}
        issues = dobj.get_artifact(Keys.ARTIFACT_ISSUES_PER_STAGE) or {}
        variance = _by_stage(_frame(dobj, Keys.ARTIFACT_VARIANCE_FILTERED), "variance_class")
        drift = _by_stage(_frame(dobj, Keys.ARTIFACT_VARIANCE_CYCLE_MEDIANS), "cycle_median_class")
        stages = [s for s in STAGES if s in set(counts) | set(issues) | set(thresholds)]
        if not stages:
            return [{**common, "stage": None}]
        rows = []
        for stage in stages:
            limits = thresholds.get(stage, {})
            count = counts.get(stage, {})
            rows.append({
                **common,
                "stage": stage,
                "n_cycles": count.get("n", 0),
                "n_valid_cycles": count.get("v", 0),
                "n_short_cycles": count.get("s", 0),
                "baseline_kw": limits.get("baseline_kw"),
                "lower_kw": limits.get("lower_kw"),
                "upper_kw": limits.get("upper_kw"),
                "variance_class": variance.get(stage),
                "cycle_median_class": drift.get(stage),
                "issues": ";".join(sorted(issues.get(stage, []))),
            })
        return rows

    def to_dataframe(self, results: BatchResults) -> pd.DataFrame:
        frame = pd.DataFrame(list(self.rows(results)), columns=list(self.columns))
        return frame.astype({k: v for k, v in DTYPES.items() if k in frame.columns})
