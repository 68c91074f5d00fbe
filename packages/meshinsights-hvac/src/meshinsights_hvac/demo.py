"""A demo fleet of rooftop units with known faults (spec section 6).

Deterministic for a seed. Each device has 1 to 4 stages with steady power
(cool1 2-6 kW, a second stage 1.3-1.6x the first, heat alike), ~1 % noise,
an inrush/ramp over the first two minutes of each stage, a stage signal
lagging power by 0 or 1 minute, on/off times driven by a daily outdoor
temperature curve, fan overrun after some calls, data gaps, and at most one
injected fault whose expected issue codes go to the ground-truth table.

Rows are built with numpy from a list of calls (a call is stage 1, an
optional stage 2, a fan overrun and an off period), expanded with
``np.repeat``: there is no Python loop over rows, only over devices.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

START_DATE = date(2025, 2, 5)
FIRST_LOCATION = 11688
FIRST_CONTROL = 2916276
DEVICES_PER_LOCATION = 4
DEVICES_PER_PART = 10

#: Fault kinds, each named by the issue code it should raise.
FAULTS: tuple[str, ...] = (
    "short_cycling",
    "no_power_when_called",
    "unstable_power",
    "drifting_cycle_medians",
    "out_of_band_cycles",
    "stage_power_inverted",
    "insufficient_cycles",
)
#: Thermostat call codes written to the ``stage`` column.
THERMOSTAT_CODE = {"off": "OFF", "fan": "G", "cool1": "Y1", "cool2": "Y2", "heat1": "W1",
                   "heat2": "W2"}
_STAGE_SETS: tuple[tuple[str, ...], ...] = (
    ("cool1",), ("heat1",),
    ("cool1", "cool2"), ("cool1", "heat1"), ("heat1", "heat2"),
    ("cool1", "cool2", "heat1"), ("cool1", "heat1", "heat2"),
    ("cool1", "cool2", "heat1", "heat2"),
)
_NAMES = ("off", "fan", "cool1", "cool2", "heat1", "heat2")
_CODE = {n: i for i, n in enumerate(_NAMES)}
_OFF, _FAN = 0, 1


@attrs.frozen
class Fleet:
    """The fleet as frames: raw power rows, the device list and the ground truth."""

    power: pd.DataFrame
    devices: pd.DataFrame
    ground_truth: pd.DataFrame


@attrs.frozen
class _Device:
    index: int
    stages: tuple[str, ...]
    fault: str | None
    target: str | None


def _plan(n_devices: int, seed: int) -> list[_Device]:
    """Half the fleet clean, the rest cycling through the fault kinds, in shuffled order."""
    rng = np.random.default_rng([seed, 0])
    kinds: list[str | None] = [
        None if i % 2 == 0 else FAULTS[(i // 2) % len(FAULTS)] for i in range(n_devices)
    ]
    order = rng.permutation(n_devices)
    devices = []
    for i in range(n_devices):
        fault = kinds[int(order[i])]
        drng = np.random.default_rng([seed, 1, i])
        stages = _STAGE_SETS[int(drng.integers(len(_STAGE_SETS)))]
        if fault == "stage_power_inverted" and not {"cool2", "heat2"} & set(stages):
            stages = ("cool1", "cool2")
        devices.append(_Device(i, stages, fault, _target(fault, stages, drng)))
    return devices


def _target(fault: str | None, stages: tuple[str, ...], rng: np.random.Generator) -> str | None:
    """The stage a fault hits, chosen so that it does not also trip another code."""
    if fault is None or fault == "insufficient_cycles":
        return None
    firsts = [s for s in stages if s in ("cool1", "heat1")]
    seconds = [s for s in stages if s in ("cool2", "heat2")]
    if fault == "stage_power_inverted":
        return str(rng.choice(seconds))
    if fault in ("short_cycling", "no_power_when_called"):
        return str(rng.choice(firsts))
    if fault == "drifting_cycle_medians":
        # A drifting first stage could cross its second stage and look inverted.
        lone = [s for s in stages if s in seconds or s[:-1] + "2" not in stages]
        return str(rng.choice(lone))
    return str(rng.choice(list(stages)))


def _mode_of(hour: np.ndarray, stages: tuple[str, ...]) -> np.ndarray:
    """True where a call heats: mornings and nights for dual-mode units."""
    cools = any(s.startswith("cool") for s in stages)
    heats = any(s.startswith("heat") for s in stages)
    if cools and heats:
        return (hour >= 22) | (hour < 11)
    return np.full(hour.shape, heats)


def _simulate(device: _Device, days: int, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """One device's raw rows (minute index, power kW, stage code) and the stages seen."""
    rng = np.random.default_rng([seed, 2, device.index])
    minutes = days * 1440
    stages = device.stages
    first_level = {"cool1": rng.uniform(2.0, 6.0), "heat1": rng.uniform(2.0, 6.0)}
    level = np.zeros(len(_NAMES))
    for name in ("cool1", "heat1"):
        level[_CODE[name]] = first_level[name]
        second = name[:-1] + "2"
        ratio = rng.uniform(1.3, 1.6)
        if device.fault == "stage_power_inverted" and device.target == second:
            ratio = 0.85
        level[_CODE[second]] = first_level[name] * ratio
    ramp = (rng.uniform(0.5, 0.7), rng.uniform(0.8, 0.95))
    lag = int(rng.integers(0, 2))

    # Calls: on/off minutes from the outdoor load at the call's (approximate) start.
    n_calls = minutes // 15 + 20
    rough = np.cumsum(np.full(n_calls, 30.0))
    load = 0.5 - 0.5 * np.cos(2 * np.pi * ((rough / 60.0) % 24 - 3) / 24)
    heating = _mode_of(((rough // 60) % 24).astype(int), stages)
    load = np.where(heating, 1.0 - load, load)
    on = np.round(8 + 14 * load + rng.uniform(0, 4, n_calls)).astype(np.int64)
    off = np.round(7 + 18 * (1 - load) + rng.uniform(0, 4, n_calls)).astype(np.int64)
    start = np.r_[0, np.cumsum(on + off)[:-1]] + int(rng.integers(0, 20))
    hour = (start // 60) % 24
    heating = _mode_of(hour, stages)
    family_first = np.where(heating, _CODE["heat1"], _CODE["cool1"])
    has_second = np.where(heating, "heat2" in stages, "cool2" in stages)
    staged = has_second & (rng.random(n_calls) < 0.3 + 0.4 * load)

    affected = np.zeros(n_calls, dtype=bool)
    if device.target is not None:
        target = _CODE[device.target]
        in_family = family_first == (target if device.target.endswith("1") else target - 1)
        if device.fault in ("no_power_when_called", "out_of_band_cycles"):
            affected = in_family & (rng.random(n_calls) < 0.35)
            if device.fault == "no_power_when_called":
                staged &= ~affected
        if device.fault == "short_cycling":
            window = (hour >= 14) & (hour < 16) if device.target == "cool1" else (
                (hour >= 5) & (hour < 7))
            affected = in_family & window
            staged &= ~affected

    # Short cycling: a call in the episode becomes period // 5 calls of 2 min on, 3 off.
    repeat = np.where(affected & (device.fault == "short_cycling"), (on + off) // 5, 1)
    repeat = np.maximum(repeat, 1)
    short = np.repeat(affected & (device.fault == "short_cycling"), repeat)
    call = np.repeat(np.arange(n_calls), repeat)
    on_c = np.where(short, 2, np.repeat(on, repeat))
    off_c = np.where(short, 3, np.repeat(off, repeat))
    first_c = np.repeat(family_first, repeat)
    staged_c = np.repeat(staged, repeat) & ~short
    fan = (rng.random(len(call)) < 0.1) & (off_c > 5)

    # Segments per call: stage 1, stage 2, fan overrun, off.
    split = np.where(staged_c, np.maximum(np.round(on_c * rng.uniform(0.3, 0.6, len(call))), 1), on_c)
    lengths = np.stack([split, on_c - split, np.where(fan, 3, 0), off_c - np.where(fan, 3, 0)], 1)
    codes = np.stack([first_c, first_c + 1, np.full(len(call), _FAN), np.full(len(call), _OFF)], 1)
    seg_len = lengths.ravel().astype(np.int64)
    seg_code = codes.ravel()
    seg_call = np.repeat(call, 4)
    lead = int(start[0])
    rows_code = np.r_[np.full(lead, _OFF), np.repeat(seg_code, seg_len)][:minutes]
    rows_call = np.r_[np.full(lead, -1), np.repeat(seg_call, seg_len)][:minutes]
    seg_begin = np.cumsum(seg_len) - seg_len
    rows_pos = (np.arange(len(rows_code)) - lead - np.r_[np.zeros(lead, np.int64),
                np.repeat(seg_begin, seg_len)][:minutes] + lead)
    rows_pos = np.where(np.arange(len(rows_code)) < lead, 0, rows_pos - lead)

    t = np.arange(len(rows_code))
    hours = (t / 60.0) % 24
    running = rows_code >= _CODE["cool1"]
    diurnal = 1 + 0.05 * np.sin(2 * np.pi * (hours - 9) / 24)
    diurnal = np.where((rows_code >= _CODE["heat1"]), 2 - diurnal, diurnal)
    noise_sd = np.full(len(t), 0.01)
    power = level[rows_code] * diurnal
    ramp_factor = np.select([rows_pos == 0, rows_pos == 1], list(ramp), default=1.0)
    power = power * np.where(running, ramp_factor, 1.0)
    if device.target is not None:
        target_rows = rows_code == _CODE[device.target]
        hit_call = np.r_[affected, False][np.where(rows_call < 0, n_calls, rows_call)]
        if device.fault == "unstable_power":
            noise_sd = np.where(target_rows, 0.12, noise_sd)
        elif device.fault == "drifting_cycle_medians":
            power = np.where(target_rows, power * (1 + 0.8 * t / minutes), power)
        elif device.fault == "out_of_band_cycles":
            power = np.where(target_rows & hit_call, power * 1.5, power)
        elif device.fault == "no_power_when_called":
            power = np.where(target_rows & hit_call, 0.05, power)
    power = power * (1 + rng.normal(0, 1, len(t)) * noise_sd)
    power = np.where(running, power, np.where(rows_code == _FAN, 0.03, 0.0))
    power = np.abs(power + np.where(running, 0.0, rng.normal(0, 0.003, len(t))))

    # The thermostat's signal lags power by `lag` minutes.
    observed = np.r_[np.full(lag, _OFF), rows_code[: len(rows_code) - lag]]
    keep = np.ones(len(t), dtype=bool)
    if device.fault == "insufficient_cycles":
        first_on = int(np.flatnonzero(observed >= _CODE["cool1"])[0])
        keep = (t >= first_on - 5) & (t < first_on + 40)
    else:
        for _ in range(int(rng.integers(0, 3))):
            begin = int(rng.integers(0, len(t)))
            keep[begin : begin + int(rng.integers(10, 120))] = False
    seen = sorted({_NAMES[c] for c in np.unique(observed[keep]) if c >= _CODE["cool1"]})
    frame = pd.DataFrame({"minute": t[keep], "power_kw": power[keep], "code": observed[keep]})
    return frame, seen


def _fleet_parts(
    n_devices: int, days: int, seed: int, start: date, devices_per_part: int
) -> Iterator[Fleet]:
    """The fleet in parts of ``devices_per_part`` devices, so memory stays bounded."""
    if n_devices < 1 or days < 1:
        raise ValueError("n_devices and days must be at least 1")
    plan = _plan(n_devices, seed)
    for first in range(0, len(plan), devices_per_part):
        yield _fleet_of(plan[first : first + devices_per_part], days, seed, start)


def _fleet_of(plan: list[_Device], days: int, seed: int, start: date) -> Fleet:
    t0 = pd.Timestamp(start).tz_localize("UTC").as_unit("us")
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("location_id", "control_id",
                                                             "minute", "power_w", "stage")}
    devices: list[dict[str, str]] = []
    truth: list[dict[str, str | None]] = []
    code_names = np.array([THERMOSTAT_CODE[n] for n in _NAMES], dtype=object)
    for device in plan:
        rows, seen = _simulate(device, days, seed)
        location = str(FIRST_LOCATION + device.index // DEVICES_PER_LOCATION)
        control = str(FIRST_CONTROL + device.index)
        device_id = control
        n = len(rows)
        columns["location_id"].append(np.full(n, location, dtype=object))
        columns["control_id"].append(np.full(n, control, dtype=object))
        columns["minute"].append(rows["minute"].to_numpy())
        columns["power_w"].append(np.round(rows["power_kw"].to_numpy() * 1000.0, 1))
        columns["stage"].append(code_names[rows["code"].to_numpy()])
        devices.append({
            "device_id": device_id, "location_id": location, "control_id": control,
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=days - 1)).isoformat(),
        })
        if device.fault == "insufficient_cycles":
            truth.extend({"device_id": device_id, "stage": s, "issue_code": device.fault}
                         for s in seen)
        elif device.fault is not None:
            truth.append({"device_id": device_id, "stage": device.target,
                          "issue_code": device.fault})
    # One contiguous array per column: filtering a frame of many small chunks is slow.
    joined = {k: np.concatenate(v) for k, v in columns.items()}
    power = pd.DataFrame({
        "location_id": pd.array(joined["location_id"], dtype="str"),
        "control_id": pd.array(joined["control_id"], dtype="str"),
        "timestamp": t0 + pd.to_timedelta(joined["minute"], unit="min"),
        "power_w": joined["power_w"],
        "stage": pd.array(joined["stage"], dtype="str"),
    })
    return Fleet(
        power=power,
        devices=pd.DataFrame(devices, columns=["device_id", "location_id", "control_id",
                                               "start_date", "end_date"]).astype("str"),
        ground_truth=pd.DataFrame(truth, columns=["device_id", "stage", "issue_code"]).astype("str"),
    )


def generate_fleet_frames(
    n_devices: int = 50, days: int = 30, seed: int = 0, start: date = START_DATE
) -> Fleet:
    """The demo fleet in memory (the same content :func:`generate_fleet` writes)."""
    parts = list(_fleet_parts(n_devices, days, seed, start, max(n_devices, 1)))
    return parts[0]


#: Rows per Parquet row group: DuckDB's own default, and what compaction jobs aim for.
ROW_GROUP_ROWS = 122_880
#: Devices per written file: a compaction job's output (a week of 1,000 devices is ~50 MB
#: of Parquet). A query opens every file its glob matches, so a fleet of many small files
#: costs each query more than the rows it reads (``benchmarks/README.md``, Scale (d)).
DEVICES_PER_FILE = 1000


def _row_group_bounds(device: np.ndarray) -> list[int]:
    """Starts of row groups of whole devices, each at least ``ROW_GROUP_ROWS`` rows
    except the last (the rows not yet in a group)."""
    bounds = [0]
    if not len(device):
        return bounds
    starts = np.flatnonzero(np.r_[True, device[1:] != device[:-1]])
    for start in starts[1:]:
        if start - bounds[-1] >= ROW_GROUP_ROWS:
            bounds.append(int(start))
    return bounds


class _ParquetFile:
    """One Parquet file written part by part, in row groups of whole devices.

    This is how a compaction job sorted by device writes them: a query for a
    few devices reads only their row groups (DuckDB skips the others by their
    statistics). Much smaller groups cost every query more to prune than they
    save once a fleet has thousands of them (``benchmarks/README.md``, Scale (d)).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []

    def append(self, power: pd.DataFrame) -> None:
        self._pending.append(pa.Table.from_pandas(power, preserve_index=False))
        if sum(len(t) for t in self._pending) < ROW_GROUP_ROWS:
            return
        table = pa.concat_tables(self._pending)
        bounds = _row_group_bounds(table.column("control_id").to_numpy())
        for start, stop in itertools.pairwise(bounds):
            self._write(table.slice(start, stop - start))
        self._pending = [table.slice(bounds[-1])]

    def close(self) -> None:
        rest = pa.concat_tables(self._pending) if self._pending else None
        if rest is not None and (len(rest) or self._writer is None):
            self._write(rest)
        if self._writer is not None:
            self._writer.close()

    def _write(self, group: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, group.schema)
        self._writer.write_table(group, row_group_size=max(len(group), 1))


class _CsvFile:
    """One CSV file written part by part (UTC timestamps in ISO 8601)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._started = False

    def append(self, power: pd.DataFrame) -> None:
        text = power.assign(timestamp=power["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        text.to_csv(self.path, index=False, mode="a" if self._started else "w",
                    header=not self._started)
        self._started = True

    def close(self) -> None:
        pass


def generate_fleet(
    n_devices: int = 50,
    days: int = 30,
    seed: int = 0,
    out_dir: str | Path = "demo-data",
    fmt: str = "parquet",
    start: date = START_DATE,
) -> dict[str, Any]:
    """Write the fleet: ``power/part-*.{parquet,csv}``, ``devices.csv``, ``ground_truth.csv``.

    The layout is what the ``file`` connector reads with
    ``tables = {power = "power/*.parquet"}``; returns the paths written.
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    out = Path(out_dir)
    power_dir = out / "power"
    power_dir.mkdir(parents=True, exist_ok=True)
    for old in power_dir.glob("part-*"):
        old.unlink()
    parts: list[str] = []
    devices: list[pd.DataFrame] = []
    truth: list[pd.DataFrame] = []
    rows = 0
    sink: _ParquetFile | _CsvFile | None = None
    in_file = 0
    # Part by part: generating 1,000 devices holds no more than one part (and one
    # row group) in memory; parts of whole devices are appended to the open file.
    for fleet in _fleet_parts(n_devices, days, seed, start, DEVICES_PER_PART):
        if sink is None or in_file + len(fleet.devices) > DEVICES_PER_FILE:
            if sink is not None:
                sink.close()
            path = power_dir / f"part-{len(parts):05d}.{fmt}"
            sink = _ParquetFile(path) if fmt == "parquet" else _CsvFile(path)
            parts.append(str(path))
            in_file = 0
        sink.append(fleet.power)
        in_file += len(fleet.devices)
        devices.append(fleet.devices)
        truth.append(fleet.ground_truth)
        rows += len(fleet.power)
    if sink is not None:
        sink.close()
    device_table = pd.concat(devices, ignore_index=True)
    device_table.to_csv(out / "devices.csv", index=False)
    pd.concat(truth, ignore_index=True).to_csv(out / "ground_truth.csv", index=False)
    return {
        "power": parts,
        "devices": str(out / "devices.csv"),
        "ground_truth": str(out / "ground_truth.csv"),
        "rows": rows,
        "devices_count": len(device_table),
    }
