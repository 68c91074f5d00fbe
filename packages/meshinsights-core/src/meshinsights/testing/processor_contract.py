"""The contract every Processor plugin must pass, as a test class to subclass."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import pandas as pd
import pytest

from meshinsights.data_object import PipelineDataObject
from meshinsights.processor import Processor


class ProcessorContract:
    """Subclass in a processor package's tests; provide two fixtures:

    - ``processor``: an instance of the processor under test;
    - ``make_data_object``: a callable returning a fresh data object holding
      the datasets and upstream artifacts the processor needs.
    """

    def test_returns_the_same_data_object_without_errors(
        self, processor: Processor, make_data_object: Callable[[], PipelineDataObject]
    ) -> None:
        data_object = make_data_object()
        assert processor(data_object) is data_object
        assert data_object.errors == []

    def test_does_not_change_normalized_datasets(
        self, processor: Processor, make_data_object: Callable[[], PipelineDataObject]
    ) -> None:
        data_object = make_data_object()
        before = {k: v.copy(deep=True) for k, v in data_object.normalized_data.items()}
        processor(data_object)
        for key, frame in before.items():
            pd.testing.assert_frame_equal(data_object.normalized_data[key], frame)

    def test_registers_a_schema_for_every_dataframe_artifact(
        self, processor: Processor, make_data_object: Callable[[], PipelineDataObject]
    ) -> None:
        data_object = make_data_object()
        existing = set(data_object.artifacts)
        processor(data_object)
        produced = [
            k for k, v in data_object.artifacts.items()
            if k not in existing and isinstance(v, pd.DataFrame)
        ]
        missing = [k for k in produced if k not in data_object.artifact_schemas]
        assert not missing, f"DataFrame artifacts without a registered schema: {missing}"
        schema_warnings = [w.message for w in data_object.warnings if w.component == "schema"]
        assert not schema_warnings

    def test_is_deterministic(
        self, processor: Processor, make_data_object: Callable[[], PipelineDataObject]
    ) -> None:
        first, second = make_data_object(), make_data_object()
        processor(first)
        processor(second)
        assert sorted(first.artifacts) == sorted(second.artifacts)
        for key, value in first.artifacts.items():
            other = second.artifacts[key]
            if isinstance(value, pd.DataFrame):
                pd.testing.assert_frame_equal(value, other)
            else:
                assert value == other or (value != value and other != other)

    def test_pickles_for_process_and_dask_executors(self, processor: Processor) -> None:
        clone = pickle.loads(pickle.dumps(processor))
        assert type(clone) is type(processor)

    @pytest.fixture
    def empty_data_object(self) -> PipelineDataObject:
        return PipelineDataObject("contract", {"device_id": "contract-device"})
