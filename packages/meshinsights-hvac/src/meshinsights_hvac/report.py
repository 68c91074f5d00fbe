"""``report.html`` of the hvac-power solution: fleet overview and one section per device.

Each device section holds one matplotlib figure rendered to inline SVG: power
over the last few days of filtered data with cycles shaded and the per-stage
baseline and threshold bands, every cycle median over the whole window, and
the cycle-median distribution per stage against its band. Time series are cut
to the last :data:`DAYS_SHOWN` days so a 50-device report stays a few MB.
matplotlib is imported here only, and this module only when a report is built.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from meshinsights.report import cards, escape, fleet_overview, issue_counts, page, sortable_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.patches import PathPatch

    from meshinsights.ledger import DeviceRecord

logger = logging.getLogger(__name__)

#: Days of filtered power shown per device (the end of its data backwards).
DAYS_SHOWN = 3
#: Devices charted at most, in page order (issues first): a chart is ~100 KB of SVG.
MAX_CHARTED_DEVICES = 100
#: Fleets with at least this many charts share them with worker processes.
PARALLEL_MIN_DEVICES = 16
MAX_PROCESSES = 4
#: Charts this process draws beyond its equal share while the workers import.
WORKER_HEAD_START = 6

STAGE_COLORS: dict[str, str] = {
    "fan": "#7b8794",
    "cool1": "#1f77b4",
    "cool2": "#0b3d91",
    "heat1": "#e8590c",
    "heat2": "#b02a1a",
    "aux": "#7048e8",
}

STYLE = """
.table-wrap{max-height:26rem;overflow:auto;border:1px solid #e4e7eb;border-radius:6px}
.table-wrap td a{color:#1c5d99;font-weight:600}.table-wrap td{white-space:nowrap}
.table-wrap td:nth-child(4),.table-wrap td:last-child{white-space:normal;min-width:12rem}
.overview{display:flex;gap:2rem;flex-wrap:wrap}
details.device{border:1px solid #d9e2ec;border-radius:8px;padding:.4rem .9rem;margin:.6rem 0}
details.device>summary{cursor:pointer;font-size:1.05rem;padding:.2rem 0}
details.device>summary b{margin-right:.6rem}
.badge{display:inline-block;border-radius:10px;padding:.05rem .5rem;margin:0 .2rem;font-size:.78rem;
background:#fde8e8;color:#9b1c1c}.badge.ok{background:#def7ec;color:#03543f}
.badge.warn{background:#fdf6b2;color:#723b13}
.messages{font-size:.85rem}.messages li{margin:.15rem 0}.errors li{color:#9b1c1c}
svg.chart{width:100%;height:auto;display:block}
.stages{margin:.5rem 0 1rem}.note{color:#52606d;font-size:.85rem}
.legend{font-size:.8rem;color:#52606d;margin:.2rem 0 .6rem}
.key{margin-right:.8rem;color:#1f2933;font-weight:600}
.key i{display:inline-block;width:.9rem;height:.6rem;margin-right:.3rem;border-radius:2px}
"""


def anchor(device_id: str) -> str:
    """An HTML id for a device's section, unique even when the id holds odd characters."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", device_id)
    if cleaned != device_id:
        cleaned = f"{cleaned}-{hashlib.sha256(device_id.encode()).hexdigest()[:8]}"
    return f"device-{cleaned}"


def _issue_list(record: DeviceRecord) -> list[str]:
    """``stage: code`` for every issue of the device, stages in their table order."""
    per_stage = record.document.get("artifacts", {}).get("issues/per_stage") or {}
    return [f"{stage}: {code}" for stage, codes in per_stage.items() for code in codes]


def device_table(records: Sequence[DeviceRecord]) -> pd.DataFrame:
    """One row per device: status, stages, issues and cycle counts, for the overview table."""
    rows = []
    for record in records:  # one row per device, not per data row
        stages = pd.DataFrame(record.summary_rows)
        issues = _issue_list(record)
        counts = {
            column: int(pd.to_numeric(stages[column], errors="coerce").fillna(0).sum())
            if column in stages else 0
            for column in ("n_cycles", "n_valid_cycles", "n_short_cycles")
        }
        present = stages["stage"].dropna().astype(str).tolist() if "stage" in stages else []
        rows.append({
            "device_id": record.device_id,
            "status": record.status,
            "n_issues": len(issues),
            "issues": "; ".join(issues),
            "stages": " ".join(present),
            **counts,
            "n_errors": int(record.document.get("n_errors", 0)),
            "n_warnings": int(record.document.get("n_warnings", 0)),
            "first_error": _shorten((record.document.get("errors") or [""])[0]),
        })
    frame = pd.DataFrame(rows)
    return frame.sort_values("device_id", ignore_index=True) if len(frame) else frame


def _shorten(text: str, limit: int = 90) -> str:
    """A table cell's worth of a message; the device's section has all of it."""
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "\u2026"


def device_order(table: pd.DataFrame) -> list[str]:
    """Analysed devices with issues first (most issues first), then devices that failed or had
    too little data to analyse, then clean ones."""
    rank = np.where(table["status"] != "ok", 1, np.where(table["n_issues"] > 0, 0, 2))
    ordered = table.assign(_rank=rank).sort_values(
        ["_rank", "n_issues", "device_id"], ascending=[True, False, True]
    )
    return ordered["device_id"].astype(str).tolist()


# -- data ---------------------------------------------------------------------------


def _read(out_dir: Path, record: DeviceRecord, key: str, columns: list[str]) -> pd.DataFrame | None:
    relative = record.artifact_files.get(key)
    if relative is None or not (out_dir / relative).exists():
        return None
    return pd.read_parquet(out_dir / relative, columns=columns)


def _thresholds(record: DeviceRecord) -> dict[str, dict[str, float]]:
    found = record.document.get("artifacts", {}).get("baseline/thresholds") or {}
    return {str(stage): values for stage, values in found.items() if values}


def _date_numbers(times: pd.Series) -> np.ndarray:
    """matplotlib date numbers (days) of UTC timestamps, the axes' own unit."""
    import matplotlib.dates as mdates

    numbers = mdates.date2num(times.dt.tz_localize(None).to_numpy())  # type: ignore[no-untyped-call]
    return np.asarray(numbers, dtype=float)


def _broken_line(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """x/y of one line with a NaN break between cycles, so off periods stay empty."""
    codes = pd.factorize(frame["cycle_id"])[0]
    breaks = np.flatnonzero(codes[1:] != codes[:-1]) + 1
    x = np.insert(_date_numbers(frame["timestamp"]), breaks, np.nan)
    y = np.insert(frame["power_kw"].to_numpy(dtype=float), breaks, np.nan)
    return x, y


@attrs.frozen
class DeviceData:
    """What one device's chart needs, read from its Parquet artifacts and its record."""

    cycles: pd.DataFrame
    filtered: pd.DataFrame | None
    medians: pd.DataFrame | None
    thresholds: dict[str, dict[str, float]]

    @property
    def stages(self) -> list[str]:
        """The device's stages in a fixed order (off and unknown stages have no colour)."""
        present = set(self.cycles["stage"].astype(str).unique())
        return [stage for stage in STAGE_COLORS if stage in present]


def read_device(out_dir: Path, record: DeviceRecord) -> DeviceData | None:
    """The device's chart data, or None when it has no cycles at all."""
    cycles = _read(out_dir, record, "cycles/summary",
                   ["start", "end", "stage", "valid", "short_cycle"])
    if cycles is None or not len(cycles):
        return None
    return DeviceData(
        cycles=cycles,
        filtered=_read(out_dir, record, "cycles/filtered_data",
                       ["timestamp", "power_kw", "stage", "cycle_id"]),
        medians=_read(out_dir, record, "cycles/medians", ["start", "stage", "median_kw", "outlier"]),
        thresholds=_thresholds(record),
    )


# -- charts -------------------------------------------------------------------------


def _color(stage: str) -> str:
    return STAGE_COLORS.get(stage, "#52606d")


def _bands(ax: Axes, thresholds: Mapping[str, Mapping[str, float]], stages: Sequence[str]) -> None:
    """Per stage: the [lower, upper] band filled, its edges dotted, the baseline dashed.

    Three collections across the axes' width (not one artist per line): they
    draw fast and leave the data limits alone; callers set the y range.
    """
    from matplotlib.collections import LineCollection, PolyCollection

    bands = [(stage, thresholds[stage]) for stage in stages if thresholds.get(stage)]
    if not bands:
        return
    across = ax.get_yaxis_transform()  # x in axes fraction, y in kW
    ax.add_collection(PolyCollection(
        [[(0, b["lower_kw"]), (1, b["lower_kw"]), (1, b["upper_kw"]), (0, b["upper_kw"])]
         for _, b in bands],
        facecolors=[_color(stage) for stage, _ in bands], alpha=0.10, lw=0, transform=across,
    ), autolim=False)
    ax.add_collection(LineCollection(
        [[(0, b[edge]), (1, b[edge])] for _, b in bands for edge in ("lower_kw", "upper_kw")],
        colors=[_color(stage) for stage, _ in bands for _ in range(2)], lw=0.7, linestyles=":",
        transform=across,
    ), autolim=False)
    ax.add_collection(LineCollection(
        [[(0, b["baseline_kw"]), (1, b["baseline_kw"])] for _, b in bands],
        colors=[_color(stage) for stage, _ in bands], lw=1.0, linestyles="--", transform=across,
    ), autolim=False)


def _y_range(values: np.ndarray, thresholds: Mapping[str, Mapping[str, float]],
             stages: Sequence[str], from_zero: bool) -> tuple[float, float]:
    """A y range holding the data and every band, with a little room above."""
    levels = [float(v) for v in values[np.isfinite(values)]] if len(values) < 3 else [
        float(np.nanmin(values)), float(np.nanmax(values))]
    for stage in stages:
        band = thresholds.get(stage)
        if band:
            levels += [band["lower_kw"], band["upper_kw"]]
    if not levels:
        return 0.0, 1.0
    low, high = (0.0 if from_zero else min(levels)), max(levels)
    pad = max(high - low, 0.5) * 0.08
    return (low if from_zero else low - pad), high + pad


def _spans(left: np.ndarray, right: np.ndarray, transform: Any, **style: Any) -> PathPatch:
    """Full-height spans [left, right) as ONE path, not one SVG element per cycle.

    Add it with ``add_artist``: ``add_patch`` would walk every segment to update
    data limits that the panel sets itself.
    """
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    bottom, top = np.zeros_like(left), np.ones_like(left)
    corners = np.stack([np.column_stack(pair) for pair in (
        (left, bottom), (right, bottom), (right, top), (left, top), (left, bottom))], axis=1)
    codes = np.tile([MplPath.MOVETO, MplPath.LINETO, MplPath.LINETO, MplPath.LINETO,
                     MplPath.CLOSEPOLY], len(left))
    return PathPatch(MplPath(corners.reshape(-1, 2), codes), transform=transform, **style)


def _date_axis(ax: Axes, max_ticks: int) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=max_ticks)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _power_panel(ax: Axes, data: DeviceData) -> None:
    """Filtered power of the last days, cycles shaded, rejected and short cycles marked."""
    cycles, filtered, stages = data.cycles, data.filtered, data.stages
    end = cycles["end"].max()
    if filtered is not None and len(filtered):
        end = max(end, filtered["timestamp"].max())
    first = cycles["start"].min()
    start = max(end - pd.Timedelta(days=DAYS_SHOWN), first - (end - first) * 0.02)
    along = ax.get_xaxis_transform()  # x in dates, y in axes fraction
    shown = cycles[cycles["end"] > start]
    left, right = _date_numbers(shown["start"]), _date_numbers(shown["end"])
    valid = shown["valid"].to_numpy(dtype=bool)
    stage_names = shown["stage"].astype(str).to_numpy()
    for stage in stages:
        mask = valid & (stage_names == stage)
        if mask.any():
            ax.add_artist(_spans(left[mask], right[mask], along, lw=0, alpha=0.10,
                                 facecolor=_color(stage)))
    if (~valid).any():
        ax.add_artist(_spans(left[~valid], right[~valid], along, facecolor="none", lw=0,
                             edgecolor="#9aa5b1", hatch="////"))
    short = shown["short_cycle"].to_numpy(dtype=bool)
    if short.any():
        ax.plot(left[short], np.full(int(short.sum()), 0.97), "v", color="#c81e1e", ms=4,
                transform=along, clip_on=False)
    power = np.array([], dtype=float)
    if filtered is not None and len(filtered):
        recent = filtered[filtered["timestamp"] > start]
        recent_stages = recent["stage"].astype(str).to_numpy()
        power = recent["power_kw"].to_numpy(dtype=float)
        for stage in stages:
            part = recent[recent_stages == stage]
            if len(part):
                ax.plot(*_broken_line(part), color=_color(stage), lw=1.0)
    _bands(ax, data.thresholds, stages)
    ax.set_xlim(_date_numbers(pd.Series([start, end])).tolist())
    ax.set_ylim(*_y_range(power, data.thresholds, stages, from_zero=True))
    ax.set_ylabel("power (kW)")
    shown_days = (end - start) / pd.Timedelta(days=1)
    ax.set_title(f"Power, last {DAYS_SHOWN} days" if shown_days >= DAYS_SHOWN
                 else "Power, all of the data", loc="left", fontsize=9)
    _date_axis(ax, 8)


def _dots(ax: Axes, x: np.ndarray, y: np.ndarray, color: str, size: float = 2.6) -> None:
    """Many points as ONE path of round-capped, near zero-length strokes.

    SVG draws a round cap even on a zero-length segment, so this looks like a
    scatter plot but is a single ``<path>`` instead of one ``<use>`` element per
    point: a third of the bytes and half the rendering time for a thousand points.
    """
    span = float(np.ptp(x)) if len(x) else 0.0
    gaps = np.full(len(x), np.nan)
    xs = np.column_stack([x, x + span * 1e-6, gaps]).ravel()
    ys = np.column_stack([y, y, gaps]).ravel()
    ax.plot(xs, ys, color=color, lw=size, alpha=0.6, solid_capstyle="round")


def _medians_panel(ax: Axes, medians: pd.DataFrame, data: DeviceData, stages: Sequence[str]) -> None:
    """Every cycle median over the whole window (drift shows here), outliers crossed."""
    stage_names = medians["stage"].astype(str).to_numpy()
    x_all = _date_numbers(medians["start"])
    y_all = medians["median_kw"].to_numpy(dtype=float)
    for stage in stages:
        mask = stage_names == stage
        _dots(ax, x_all[mask], y_all[mask], _color(stage))
    outlier = medians["outlier"].to_numpy(dtype=bool)
    if outlier.any():
        ax.plot(x_all[outlier], y_all[outlier], "x", ms=4, color="#c81e1e")
    _bands(ax, data.thresholds, stages)
    ax.set_ylim(*_y_range(y_all, data.thresholds, stages, from_zero=False))
    window = _date_numbers(pd.Series([data.cycles["start"].min(), data.cycles["end"].max()]))
    pad = max(float(window[1] - window[0]), 1.0) * 0.01
    ax.set_xlim(float(window[0]) - pad, float(window[1]) + pad)
    _date_axis(ax, 7)
    ax.set_ylabel("cycle median (kW)")
    ax.set_title("Cycle medians over the whole window", loc="left", fontsize=9)


def _distribution_panel(ax: Axes, medians: pd.DataFrame, data: DeviceData,
                        stages: Sequence[str]) -> None:
    """Histogram of the cycle medians per stage, sideways on the same kW axis as the bands."""
    values = medians["median_kw"].to_numpy(dtype=float)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    bins = np.linspace(low, high if high > low else low + 1.0, 61)
    stage_names = medians["stage"].astype(str).to_numpy()
    top = 1
    for stage in stages:
        counts, _ = np.histogram(values[stage_names == stage], bins=bins)
        top = max(top, int(counts.max(initial=0)))
        ax.stairs(counts, bins, orientation="horizontal", fill=True, alpha=0.55,
                  color=_color(stage))
    ax.set_xlim(0, top * 1.05)
    _bands(ax, data.thresholds, stages)
    ax.set_xlabel("cycles")
    ax.tick_params(labelleft=False)
    ax.set_title("Cycle-median distribution per stage", loc="left", fontsize=9)


RC_PARAMS: dict[str, Any] = {
    "svg.fonttype": "none", "font.size": 8, "axes.spines.top": False,
    "axes.spines.right": False, "path.simplify_threshold": 0.5,
}


class ChartRenderer:
    """Draws device charts, keeping each figure layout between devices.

    Building a figure's axes and their ticks anew costs about a quarter of a
    chart, so the renderer clears only the data artists and draws the next
    device on the same axes. Not thread-safe: one renderer per thread or process.
    """

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self._layouts: dict[bool, tuple[Figure, list[Axes]]] = {}

    def _layout(self, with_medians: bool) -> tuple[Figure, list[Axes]]:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        if with_medians in self._layouts:
            figure, axes = self._layouts[with_medians]
            for ax in axes:
                for artist in [*ax.lines, *ax.patches, *ax.collections, *ax.artists, *ax.texts]:
                    artist.remove()
            return figure, axes
        height = 6.4 if with_medians else 3.4
        figure = Figure(figsize=(11, height))
        FigureCanvasAgg(figure)
        # a fixed layout: constrained layout would cost a third of the rendering time
        grid = figure.add_gridspec(
            2 if with_medians else 1, 2, width_ratios=(3, 1),
            height_ratios=(1.1, 1) if with_medians else None,
            left=0.055, right=0.99, top=1 - 0.3 / height, bottom=0.45 / height,
            hspace=0.32, wspace=0.03,
        )
        axes = [figure.add_subplot(grid[0, :])]
        if with_medians:
            axes.append(figure.add_subplot(grid[1, 0]))
            axes.append(figure.add_subplot(grid[1, 1], sharey=axes[1]))
        self._layouts[with_medians] = (figure, axes)
        return figure, axes

    def chart(self, record: DeviceRecord) -> str:
        """The device's figure as an inline ``<svg>``, or a note when it has nothing to plot."""
        import matplotlib

        data = read_device(self.out_dir, record)
        if data is None:
            return "<p class=\"note\">No cycles were found, so there is nothing to plot.</p>"
        medians = data.medians if data.medians is not None and len(data.medians) else None
        rc: Any = {**RC_PARAMS, "svg.hashsalt": record.device_id}  # stable SVG ids per device
        with matplotlib.rc_context(rc):
            figure, axes = self._layout(medians is not None)
            _power_panel(axes[0], data)
            if medians is not None:
                present = set(medians["stage"].astype(str).unique())
                median_stages = [s for s in data.stages if s in present]
                _medians_panel(axes[1], medians, data, median_stages)
                _distribution_panel(axes[2], medians, data, median_stages)
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg", metadata={"Date": None})
        return (_inline_svg(buffer.getvalue(), f"charts of device {record.device_id}")
                + _legend(data.stages, data.thresholds))


def device_chart(out_dir: Path, record: DeviceRecord) -> str:
    """One device's chart (see :class:`ChartRenderer` for many)."""
    return ChartRenderer(out_dir).chart(record)


def _legend(stages: Sequence[str], thresholds: Mapping[str, Any]) -> str:
    """The charts' key in HTML, which costs the figures nothing to lay out."""
    swatches = "".join(
        f"<span class=\"key\"><i style=\"background:{_color(s)}\"></i>{escape(s)}</span>"
        for s in stages)
    bands = (" Per stage: baseline dashed, threshold band [lower, upper] shaded between dotted "
             "lines." if thresholds else " No baseline: the device has too few valid cycles.")
    return (f"<p class=\"legend\">{swatches} Top: filtered samples of each cycle (trimmed, valid "
            "cycles only), cycles shaded in their stage colour, rejected cycles hatched grey, "
            "short cycles marked \u25bc in red. Bottom: every valid cycle's median power, "
            f"outliers crossed in red, and their distribution per stage.{bands}</p>")


_NUMBER_ATTRIBUTE = re.compile(r' (d|x|y|transform)="([^"]*)"')
_LONG_DECIMAL = re.compile(r"(-?\d+\.\d)\d+")
_MARKER_GROUP = re.compile(r"(<g(?: [^>]*)?>)\s*((?:<use [^>]*/>\s*)+)</g>")
_USE_STYLE = re.compile(r' style="([^"]*)"')


def _short_numbers(match: re.Match[str]) -> str:
    """Geometry to a tenth of a point, invisible on screen; text content stays as it is."""
    short = _LONG_DECIMAL.sub(lambda m: f"{float(m.group(0)):.1f}", match.group(2))
    short = " ".join(short.split())
    return f' {match.group(1)}="{short}"'


def _shared_marker_style(match: re.Match[str]) -> str:
    """The style matplotlib repeats on every marker of a group, moved once onto the group."""
    uses = match.group(2)
    styles = set(_USE_STYLE.findall(uses))
    if len(styles) != 1:
        return match.group(0)
    group = match.group(1)[:-1] + f' style="{styles.pop()}">'
    return group + _USE_STYLE.sub("", uses) + "</g>"


def _inline_svg(svg: str, label: str) -> str:
    """matplotlib's SVG file as a scalable element, without repeated styles or long decimals."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r'<svg[^>]*?(viewBox="[^"]*")[^>]*>',
                 lambda m: f'<svg xmlns="http://www.w3.org/2000/svg" '
                           f'xmlns:xlink="http://www.w3.org/1999/xlink" {m.group(1)} '
                           f'class="chart" role="img" aria-label="{escape(label)}">',
                 svg, count=1)
    svg = _MARKER_GROUP.sub(_shared_marker_style, svg)
    return _NUMBER_ATTRIBUTE.sub(_short_numbers, svg)


# -- page ---------------------------------------------------------------------------


def _badges(issues: Sequence[str], status: str) -> str:
    if issues:
        return "".join(f"<span class=\"badge\">{escape(i)}</span>" for i in issues)
    if status == "ok":
        return "<span class=\"badge ok\">no issues</span>"
    css = "badge" if status == "failed" else "badge warn"
    return f"<span class=\"{css}\">{escape(status.replace('_', ' '))}</span>"


def _messages(record: DeviceRecord) -> str:
    parts = []
    for kind in ("errors", "warnings"):
        messages = record.document.get(kind) or []
        total = int(record.document.get(f"n_{kind}", len(messages)))
        if messages:
            more = f" (first {len(messages)} of {total})" if total > len(messages) else ""
            items = "".join(f"<li>{escape(m)}</li>" for m in messages)
            parts.append(f"<div class=\"messages {kind}\"><b>{kind.capitalize()}{more}</b>"
                         f"<ul>{items}</ul></div>")
    return "".join(parts)


STAGE_COLUMNS = ["stage", "n_cycles", "n_valid_cycles", "n_short_cycles", "baseline_kw", "lower_kw",
                 "upper_kw", "variance_class", "cycle_median_class", "issues"]


def device_section(record: DeviceRecord, chart: str, open_: bool) -> str:
    """A collapsible section: status, issues, messages, per-stage numbers and the chart."""
    issues = _issue_list(record)
    head = (f"<summary><b>{escape(record.device_id)}</b>"
            f"<span class=\"status-{escape(record.status)}\">{escape(record.status)}</span> "
            f"{_badges(issues, record.status)}</summary>")
    body = _messages(record)
    if record.status == "failed":
        body += "<p class=\"note\">The device failed, so it has no results to plot.</p>"
    else:
        if record.status == "insufficient_data":
            body += ("<p class=\"note\">Not enough valid cycles for a baseline: the charts show "
                     "what was found, without bands.</p>")
        stages = pd.DataFrame(record.summary_rows).reindex(columns=STAGE_COLUMNS).dropna(
            subset=["stage"]).round(3)
        if len(stages):
            body += ("<div class=\"stages\">"
                     + sortable_table(stages, table_id=f"stages-{anchor(record.device_id)}")
                     + "</div>")
        body += chart
    return (f"<details class=\"device\" id=\"{anchor(record.device_id)}\""
            f"{' open' if open_ else ''}>{head}{body}</details>")


# -- rendering in worker processes ---------------------------------------------------


def chart_processes(n_devices: int) -> int:
    """Processes drawing ``n_devices`` charts, this one included: 1 for small fleets.

    matplotlib holds the GIL, so threads do not help; a worker process costs
    about a second and a half of imports, which pays off from a few dozen charts on.
    """
    if n_devices < PARALLEL_MIN_DEVICES:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_PROCESSES, n_devices // (PARALLEL_MIN_DEVICES // 2)))


def render_charts(out_dir: Path, records: Sequence[DeviceRecord], processes: int | None = None
                  ) -> dict[str, str]:
    """The ``<svg>`` of every device that did not fail; the same whatever ``processes`` is.

    This process draws a share itself while ``processes - 1`` workers draw the
    rest. Workers are fresh interpreters (``python -m meshinsights_hvac.report``)
    fed the records as JSON lines, not forked or spawned copies of the caller,
    so a calling script without a ``__main__`` guard is never run a second time.
    """
    charted = [r for r in records if r.status != "failed"]
    processes = chart_processes(len(charted)) if processes is None else processes
    if processes <= 1 or len(charted) < 2:
        renderer = ChartRenderer(out_dir)
        return {r.device_id: renderer.chart(r) for r in charted}
    # a larger share here: the workers first spend their imports
    own = len(charted) // processes + min(WORKER_HEAD_START, len(charted) // (2 * processes))
    workers = processes - 1
    shares = [share for share in (charted[own + i::workers] for i in range(workers)) if share]
    with ThreadPoolExecutor(len(shares)) as pool:  # threads only wait on the worker pipes
        futures = [pool.submit(_render_in_worker, out_dir, share) for share in shares]
        renderer = ChartRenderer(out_dir)
        charts = {r.device_id: renderer.chart(r) for r in charted[:own]}
        for future in futures:
            charts.update(future.result())
    return charts


def _render_in_worker(out_dir: Path, records: Sequence[DeviceRecord]) -> dict[str, str]:
    lines = "".join(record.to_json() + "\n" for record in records)
    completed = subprocess.run(
        [sys.executable, "-m", "meshinsights_hvac.report", str(out_dir)],
        input=lines, capture_output=True, text=True, check=False,
    )
    if completed.returncode != 0:
        names = ", ".join(r.device_id for r in records[:5])
        logger.warning("report worker for devices %s... failed (exit %s), charting them here: %s",
                       names, completed.returncode, completed.stderr.strip()[-2000:])
        renderer = ChartRenderer(out_dir)
        return {r.device_id: renderer.chart(r) for r in records}
    charts = [json.loads(line) for line in completed.stdout.splitlines() if line]
    return {item["device_id"]: item["chart"] for item in charts}


def _worker_main(out_dir: str) -> None:
    """Chart the records read from stdin as JSON lines; write ``{device_id, chart}`` lines."""
    from meshinsights.ledger import DeviceRecord

    renderer = ChartRenderer(Path(out_dir))
    for line in sys.stdin:
        if line.strip():
            record = DeviceRecord.from_json(line)
            chart = renderer.chart(record)
            sys.stdout.write(json.dumps({"device_id": record.device_id, "chart": chart}) + "\n")
    sys.stdout.flush()


# -- the page ------------------------------------------------------------------------


def build_report(out_dir: Path, records: Sequence[DeviceRecord], manifest: dict[str, Any]) -> str:
    """The whole page; the signature of :data:`meshinsights.outputs.ReportBuilder`."""
    from meshinsights.ledger import summary_frame

    by_device = {record.device_id: record for record in records}
    table = device_table(records)
    order = device_order(table) if len(table) else []
    drawable = [by_device[d] for d in order if by_device[d].status != "failed"]
    charts = render_charts(out_dir, drawable[:MAX_CHARTED_DEVICES])
    title = f"HVAC power report: run {manifest['run_id']} ({manifest['solution']})"
    sections = []
    for device_id in order:
        record = by_device[device_id]
        chart = charts.get(device_id, f"<p class=\"note\">Charts are drawn for the first "
                                      f"{MAX_CHARTED_DEVICES} devices of this page only.</p>")
        sections.append(device_section(record, chart, open_=bool(_issue_list(record))
                                       or record.status != "ok"))
    stage_rows = summary_frame(records, None)
    codes = issue_counts(stage_rows)
    body = (
        f"<h1>{escape(title)}</h1>"
        f"<h2>Fleet overview</h2>{fleet_overview(stage_rows, manifest)}"
        + cards({"devices with issues": int((table["n_issues"] > 0).sum()) if len(table) else 0,
                 "issues": sum(codes.values())})
        + "<h2>Devices</h2><p class=\"note\">Click a column to sort; click a device to jump to "
          "its section. Below, devices with issues come first, then those that failed or had too "
          "little data (all of these open), then the clean ones.</p>"
        + ("<div class=\"table-wrap\">"
           + sortable_table(table, "summary", links={"device_id": lambda d: f"#{anchor(str(d))}"})
           + "</div>" if len(table) else "<p>No device was recorded.</p>")
        + "<h2>Per device</h2>" + "".join(sections)
    )
    return page(title, body, style=STYLE)


if __name__ == "__main__":
    _worker_main(sys.argv[1])
