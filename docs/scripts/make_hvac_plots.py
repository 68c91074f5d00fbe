"""Plots of the HVAC page (docs/hvac.md), from a generated demo fleet.

Runs the ``hvac-power`` processors over an 8-device, 14-day demo fleet held
in memory and draws what they found. Run it from the repository root after
changing the HVAC analysis or the demo generator, and commit the PNGs:

    python docs/scripts/make_hvac_plots.py            # writes docs/images/hvac-*.png
    python docs/scripts/make_hvac_plots.py --out DIR  # somewhere else (the tests do)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
import pandas as pd

from meshinsights import DeviceUnit, Pipeline, PipelineConfig
from meshinsights_hvac import (
    HVACPipelineDataObject,
    HVACResultsAdapter,
    create_hvac_data_object,
    create_hvac_data_sources,
    create_hvac_normalizers,
    create_hvac_processors,
)
from meshinsights_hvac.demo import generate_fleet_frames

FLEET = {"n_devices": 8, "days": 14, "seed": 3}
CLEAN, SHORT_CYCLING, DRIFTING = "2916276", "2916279", "2916277"
COLORS = {"cool1": "#1f77b4", "cool2": "#17becf", "heat1": "#d62728", "heat2": "#ff7f0e", "aux": "#9467bd"}
DPI = 80
D = HVACPipelineDataObject


def run_fleet() -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """The data objects of every device, the results table and the ground truth."""
    fleet = generate_fleet_frames(**FLEET)
    connection = {"plugin": "memory", "tables": {"power": fleet.power}}
    devices = [
        DeviceUnit(row.pop("device_id"), {**row, "connection": connection})
        for row in fleet.devices.to_dict(orient="records")
    ]
    pipeline = Pipeline(
        create_hvac_data_sources, create_hvac_normalizers, create_hvac_processors,
        create_hvac_data_object, HVACResultsAdapter(),
        PipelineConfig(pipeline_name="hvac-docs", batch_size=8, io_max_workers=2),
    )
    results = pipeline.run_producer_consumer(devices)
    return results.device_results, results.to_dataframe(), fleet.ground_truth


def _window(dobj: Any, start: pd.Timestamp, hours: float = 6) -> pd.DataFrame:
    power = dobj.get_dataset(D.DATASET_POWER)
    return power[(power["timestamp"] >= start) & (power["timestamp"] < start + pd.Timedelta(hours=hours))]


def _first_short_cycle(dobj: Any) -> pd.Timestamp:
    """An hour before the short-cycling device's first short cycle, on the hour."""
    cycles = dobj.get_artifact(D.ARTIFACT_CYCLE_SUMMARY)
    start = cycles.loc[cycles["short_cycle"], "start"].min()
    return (start - pd.Timedelta(hours=1)).floor("h")


def plot_power_and_bands(objects: dict[str, Any], out: Path) -> Path:
    """A clean unit and a short-cycling one over the same hours, with the baseline bands."""
    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=False)
    start = _first_short_cycle(objects[SHORT_CYCLING])
    for ax, device_id, title in (
        (axes[0], CLEAN, f"{CLEAN}: clean"),
        (axes[1], SHORT_CYCLING, f"{SHORT_CYCLING}: short_cycling"),
    ):
        dobj = objects[device_id]
        rows = _window(dobj, start)
        ax.plot(rows["timestamp"], rows["power_kw"], color="0.35", linewidth=0.8, label="power_kw")
        thresholds = dobj.get_artifact(D.ARTIFACT_BASELINE_THRESHOLDS) or {}
        for stage, band in thresholds.items():
            color = COLORS.get(stage, "0.5")
            ax.axhspan(band["lower_kw"], band["upper_kw"], color=color, alpha=0.15)
            ax.axhline(band["baseline_kw"], color=color, linewidth=1, label=f"{stage} baseline")
        issues = dobj.get_artifact(D.ARTIFACT_ISSUES_PER_STAGE) or {}
        found = "; ".join(f"{s}: {', '.join(c)}" for s, c in issues.items() if c) or "no issues"
        ax.set_title(f"{title} (found: {found})", fontsize=9)
        ax.set_ylabel("kW")
        ax.legend(fontsize=7, loc="upper right", ncol=3)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = out / "hvac-power-bands.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_cycle_medians(objects: dict[str, Any], out: Path) -> Path:
    """Cycle medians over the window: drifting heat1 against the clean unit's."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=False)
    for ax, device_id in ((axes[0], CLEAN), (axes[1], DRIFTING)):
        dobj = objects[device_id]
        medians = dobj.get_artifact(D.ARTIFACT_CYCLE_MEDIANS)
        thresholds = dobj.get_artifact(D.ARTIFACT_BASELINE_THRESHOLDS) or {}
        classes = dobj.get_artifact(D.ARTIFACT_VARIANCE_CYCLE_MEDIANS)
        for stage, group in medians.groupby("stage", observed=True):
            color = COLORS.get(str(stage), "0.5")
            ax.scatter(group["start"], group["median_kw"], s=4, color=color, label=str(stage))
            band = thresholds.get(str(stage))
            if band:
                ax.axhspan(band["lower_kw"], band["upper_kw"], color=color, alpha=0.12)
        labels = ", ".join(f"{r.stage} {r.cycle_median_class}" for r in classes.itertuples())
        ax.set_title(f"{device_id}: {labels}", fontsize=8)
        ax.set_ylabel("median kW per cycle")
        ax.legend(fontsize=7, markerscale=3)
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
    fig.tight_layout()
    path = out / "hvac-cycle-medians.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def plot_fleet_issues(summary: pd.DataFrame, truth: pd.DataFrame, out: Path) -> Path:
    """Issue codes found per device and stage, next to the injected faults."""
    found = summary.assign(issues=summary["issues"].fillna("")).loc[lambda f: f["issues"] != ""]
    fig, ax = plt.subplots(figsize=(8, 1.6))
    ax.axis("off")
    rows = [
        [str(r.device_id), str(r.stage), str(r.issues).replace(";", ", ")]
        for r in found.itertuples()
    ]
    injected = {(t.device_id, t.stage): t.issue_code for t in truth.itertuples()}
    cells = [[*row, injected.get((row[0], row[1]), "-")] for row in rows] or [["-", "-", "-", "-"]]
    table = ax.table(
        cellText=cells, colLabels=["device", "stage", "issues found", "fault injected"],
        loc="center", cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.2)
    ax.set_title("Issues found in the demo fleet (8 devices, 14 days)", fontsize=9)
    fig.tight_layout()
    path = out / "hvac-fleet-issues.png"
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> list[Path]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    objects, summary, truth = run_fleet()
    written = [
        plot_power_and_bands(objects, args.out),
        plot_cycle_medians(objects, args.out),
        plot_fleet_issues(summary, truth, args.out),
    ]
    for path in written:
        print(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return written


if __name__ == "__main__":
    main()
