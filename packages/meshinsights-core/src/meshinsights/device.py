"""DeviceUnit: one unit of analysis (an IoT device) and its own parameters."""

from __future__ import annotations

from typing import Any

import attrs


@attrs.frozen
class DeviceUnit:
    """A device to analyse.

    ``parameters`` feed the device's data sources and processors (location,
    control id, date window, per-device thresholds), so devices with different
    settings can share one batch. ``metadata`` is carried to the device's data
    object untouched.
    """

    device_id: str = attrs.field(converter=str)
    parameters: dict[str, Any] = attrs.field(factory=dict)
    metadata: dict[str, Any] = attrs.field(factory=dict)

    @device_id.validator
    def _check_device_id(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if not value:
            raise ValueError("DeviceUnit.device_id must be a non-empty string")
