"""The factory functions of the HVAC pipeline: one device in, its components out.

Module-level functions (not closures) so that they pickle for process and
Dask executors. Device parameters: ``location_id``, ``control_id``,
``start_date``, ``end_date``, optional ``timezone``, ``power_unit`` and
``mode``, ``connection`` ({"plugin": name, **connector config}) and ``hvac``
(HVACParams overrides, including the ``source`` table and column names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshinsights.data_source import DataSource
from meshinsights.device import DeviceUnit
from meshinsights.normalizer import DataNormalizer
from meshinsights.processor import Processor
from meshinsights_hvac.data_object import HVACPipelineDataObject
from meshinsights_hvac.data_sources import PowerDataRetrieval, device_window
from meshinsights_hvac.normalizers import PowerDataNormalizer
from meshinsights_hvac.params import HVACParams
from meshinsights_hvac.processors import (
    CalculateBaselinePowerThresholds,
    CheckSufficientCycles,
    ClassifyPowerVarianceCycleMedian,
    ClassifyPowerVarianceFilteredData,
    CurateCycleMediansPerStage,
    FilterValidCycles,
)

DATASET = HVACPipelineDataObject.DATASET_POWER


def device_params(device: DeviceUnit) -> HVACParams:
    """The device's HVACParams (run ``[hvac]`` table already merged under its own)."""
    return HVACParams.from_mapping(device.parameters.get("hvac") or {})


def _required(device: DeviceUnit, key: str) -> Any:
    value = device.parameters.get(key)
    if value is None or value == "":
        raise ValueError(f"device {device.device_id!r}: parameter {key!r} is required")
    return value


def _window(device: DeviceUnit) -> Any:
    try:
        return device_window(
            _required(device, "start_date"), _required(device, "end_date"),
            device.parameters.get("timezone") or None,
        )
    except ValueError as exc:
        raise ValueError(f"device {device.device_id!r}: {exc}") from None


def create_hvac_data_sources(device: DeviceUnit) -> dict[str, DataSource]:
    """The ``hvac_power`` source of one device, for the connector in ``connection``."""
    connection = device.parameters.get("connection")
    if not isinstance(connection, Mapping) or not connection.get("plugin"):
        raise ValueError(
            f"device {device.device_id!r}: no connection: give parameters['connection'] = "
            "{'plugin': <connector name>, ...connector config} (the run config's [connection])"
        )
    start, end = _window(device)
    return {
        DATASET: PowerDataRetrieval(
            location_id=str(_required(device, "location_id")),
            control_id=str(_required(device, "control_id")),
            start=start,
            end=end,
            connection=connection,
            source=device_params(device).source,
        )
    }


def create_hvac_normalizers(device: DeviceUnit) -> dict[str, DataNormalizer]:
    """The PowerDataNormalizer with the device's unit, zone, mode and thresholds."""
    parameters = device.parameters
    return {
        DATASET: PowerDataNormalizer(
            device_params(device),
            power_unit=parameters.get("power_unit") or None,
            timezone=parameters.get("timezone") or None,
            mode=parameters.get("mode") or None,
        )
    }


def create_hvac_processors(device: DeviceUnit) -> list[Processor]:
    """The six processors in chain order, with the device's parameters and window."""
    params = device_params(device)
    window = None
    if device.parameters.get("start_date") and device.parameters.get("end_date"):
        window = tuple(t.to_pydatetime() for t in _window(device))
    return [
        FilterValidCycles(params),
        CheckSufficientCycles(params, window=window),
        ClassifyPowerVarianceFilteredData(params),
        CurateCycleMediansPerStage(params),
        ClassifyPowerVarianceCycleMedian(params),
        CalculateBaselinePowerThresholds(params),
    ]


def create_hvac_data_object(
    device_id: str, pipeline_name: str, metadata: Mapping[str, Any] | None = None
) -> HVACPipelineDataObject:
    """The HVAC data object of one device."""
    return HVACPipelineDataObject(
        pipeline_name=f"{pipeline_name}_{device_id}",
        config={"device_id": device_id, "pipeline_type": "hvac_power", **(metadata or {})},
    )
