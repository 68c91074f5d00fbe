"""Progress observers on a terminal and in logs; the processor contract kit itself."""

from __future__ import annotations

import io
import logging

import pandas as pd
import pandera.pandas as pa
import pytest
from rich.console import Console

from meshinsights import DeviceUnit, Pipeline, PipelineConfig, PipelineDataObject, Processor
from meshinsights.progress import LogProgress, RichProgress
from meshinsights.testing import ProcessorContract, isolated_host


class Doubler(Processor):
    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        data_object.register_artifact_schema(
            "doubled", pa.DataFrameSchema({"value": pa.Column(float, pa.Check.ge(0))})
        )

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        frame = data_object.get_dataset("values")
        data_object.set_artifact("doubled", frame.assign(value=frame["value"] * 2))
        return data_object


def _values_object() -> PipelineDataObject:
    return PipelineDataObject(
        "contract", {"device_id": "d1"},
        normalized_data={"values": pd.DataFrame({"value": [1.0, 2.5]})},
    )


class TestDoublerContract(ProcessorContract):
    @pytest.fixture
    def processor(self) -> Processor:
        return Doubler()

    @pytest.fixture
    def make_data_object(self):
        return _values_object


class NoSchema(Doubler):
    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        pass


def test_the_contract_catches_a_missing_schema() -> None:
    contract = TestDoublerContract()
    with pytest.raises(AssertionError, match="without a registered schema: \\['doubled'\\]"):
        contract.test_registers_a_schema_for_every_dataframe_artifact(NoSchema(), _values_object)


def _pipeline() -> Pipeline:
    return Pipeline(lambda d: {}, lambda d: {}, lambda d: [], config=PipelineConfig(batch_size=2))


def test_rich_progress_draws_a_bar_on_a_terminal() -> None:
    out = io.StringIO()
    observer = RichProgress(console=Console(file=out, force_terminal=True, width=100))
    with isolated_host(observer):
        _pipeline().run_producer_consumer([DeviceUnit(f"d{i}") for i in range(5)])
    text = out.getvalue()
    assert "5/5" in text
    assert "0 failed" in text


def test_log_progress_writes_a_line_per_batch(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="meshinsights.progress")
    with isolated_host(LogProgress()):
        _pipeline().run_producer_consumer([DeviceUnit(f"d{i}") for i in range(5)])
    lines = [r.getMessage() for r in caplog.records if r.name == "meshinsights.progress"]
    assert lines[0].endswith("started: 5 devices")
    assert [line.split(": ", 1)[1] for line in lines[1:]] == [
        "batch 1 done, 2/5 devices (0 failed)",
        "batch 2 done, 4/5 devices (0 failed)",
        "batch 3 done, 5/5 devices (0 failed)",
    ]
