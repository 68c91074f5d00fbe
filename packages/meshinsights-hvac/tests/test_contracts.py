"""Every HVAC processor passes core's ProcessorContract on a generated device-month."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hvac_test_helpers import data_object_for

from meshinsights import DeviceUnit, PipelineDataObject, Processor
from meshinsights.testing import ProcessorContract
from meshinsights_hvac.demo import Fleet
from meshinsights_hvac.factories import create_hvac_processors
from meshinsights_hvac.normalizers import PowerDataNormalizer
from meshinsights_hvac.processors import PROCESSOR_CLASSES


@pytest.fixture(params=range(len(PROCESSOR_CLASSES)),
                ids=[cls.__name__ for cls in PROCESSOR_CLASSES])
def position(request: pytest.FixtureRequest) -> int:
    return int(request.param)


class TestHVACProcessors(ProcessorContract):
    @pytest.fixture
    def processor(self, position: int) -> Processor:
        return create_hvac_processors(DeviceUnit("contract", {}))[position]

    @pytest.fixture
    def make_data_object(
        self, month_fleet: Fleet, position: int
    ) -> Callable[[], PipelineDataObject]:
        power = month_fleet.power
        first = power[power["control_id"] == month_fleet.devices["control_id"].iloc[0]]
        data = PowerDataNormalizer().normalize(first.reset_index(drop=True))

        def make() -> PipelineDataObject:
            dobj = data_object_for(data, "contract-device")
            for upstream in create_hvac_processors(DeviceUnit("contract", {}))[:position]:
                upstream(dobj)
            return dobj

        return make


def test_processor_classes_run_with_no_arguments() -> None:
    for cls in PROCESSOR_CLASSES:
        assert cls().params is not None
