"""Devices of a run: rows of a CSV and inline tables, turned into DeviceUnits.

Columns become ``DeviceUnit.parameters``; a dotted column (``hvac.min_cycle_minutes``)
goes into the nested table (``parameters["hvac"]["min_cycle_minutes"]``). The
run's ``[connection]`` reaches every device as ``parameters["connection"]``, and
the solution's parameter table, under the device's own values, as
``parameters[solution.parameters_key]``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import Any

from meshinsights.config import RunConfig
from meshinsights.device import DeviceUnit
from meshinsights.errors import ConfigError
from meshinsights.solution import Solution


def _nest(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or value == "":
            continue
        head, dot, tail = str(key).partition(".")
        if dot:
            out.setdefault(head, {})[tail] = value
        else:
            out[head] = value
    return out


def _read_csv(config: RunConfig) -> Iterable[tuple[str, dict[str, Any]]]:
    assert config.devices.csv is not None
    path = config.resolve(config.devices.csv)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or "device_id" not in reader.fieldnames:
                raise ConfigError(f"{path}: the header must have a device_id column")
            for row in reader:
                if None in row:
                    raise ConfigError(f"{path}, line {reader.line_num}: more values than columns")
                yield f"{path}, line {reader.line_num}", dict(row)
    except OSError as exc:
        raise ConfigError(f"cannot read devices CSV {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"devices CSV {path} is not UTF-8 text: {exc.reason}") from None


def load_devices(config: RunConfig, solution: Solution) -> list[DeviceUnit]:
    """The run's devices, with connection and solution parameters attached."""
    rows: list[tuple[str, dict[str, Any]]] = []
    if config.devices.csv is not None:
        rows.extend(_read_csv(config))
    rows.extend((f"[devices] inline entry {i + 1}", dict(r)) for i, r in enumerate(config.devices.inline))
    run_parameters = config.parameters.get(solution.parameters_key or "", {})
    devices: list[DeviceUnit] = []
    seen: dict[str, str] = {}
    for where, row in rows:
        parameters = _nest(row)
        device_id = str(parameters.pop("device_id", "")).strip()
        if not device_id:
            raise ConfigError(f"{where}: device_id is empty")
        if device_id in seen:
            raise ConfigError(f"{where}: device_id {device_id!r} already given at {seen[device_id]}")
        seen[device_id] = where
        if config.connection:
            parameters["connection"] = dict(config.connection)
        if solution.parameters_key:
            device = DeviceUnit(device_id, parameters)
            parameters[solution.parameters_key] = solution.device_parameters(device, run_parameters)
        devices.append(DeviceUnit(device_id=device_id, parameters=parameters))
    return devices
