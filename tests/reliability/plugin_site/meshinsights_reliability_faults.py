"""Test-only plugin: ``RaiseForMarkedDevice`` raises for devices whose id starts with ``boom``.

Put this folder on PYTHONPATH and the entry point in the ``.dist-info`` next to
it makes it an installed plugin, so CLI runs in the reliability suite can name
it in ``extra_processors``.
"""

from __future__ import annotations

from meshinsights import PipelineDataObject, Processor, hookimpl
from meshinsights.hookspecs import Register


class RaiseForMarkedDevice(Processor):
    """Raise a RuntimeError naming the device when its id starts with ``boom``."""

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        if data_object.device_id.startswith("boom"):
            raise RuntimeError(f"injected processor failure for {data_object.device_id}")
        data_object.set_artifact("reliability/checked", True)
        return data_object


@hookimpl
def register_processors(register: Register) -> None:
    register("RaiseForMarkedDevice", RaiseForMarkedDevice)
