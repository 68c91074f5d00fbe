"""Processor.__call__: schema registration, prerequisites, timing, logging and the error policy."""

from __future__ import annotations

import logging
import time

import pandas as pd
import pandera.pandas as pa
import pytest

from meshinsights import PipelineDataObject, Processor, ProcessorError, SkipProcessor


def dobj() -> PipelineDataObject:
    return PipelineDataObject(
        "hvac", {"device_id": "dev-7"}, {"hvac_power": pd.DataFrame({"power_kw": [1.0, 4.0]})}
    )


class Steps(Processor):
    """Records the order in which __call__ runs its hooks."""

    def __init__(self, ready: bool = True) -> None:
        self.calls: list[str] = []
        self.ready = ready

    def register_output_schemas(self, data_object: PipelineDataObject) -> None:
        self.calls.append("register")
        data_object.register_artifact_schema("power/max", pa.DataFrameSchema({"kw": pa.Column(float)}))

    def validate_prerequisites(self, data_object: PipelineDataObject) -> bool:
        self.calls.append("prerequisites")
        return self.ready

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        self.calls.append("process")
        time.sleep(0.01)
        kw = data_object.get_dataset("hvac_power")["power_kw"].max()
        return data_object.set_artifact("power/max", pd.DataFrame({"kw": [kw]}))

    def validate_output(self, data_object: PipelineDataObject) -> None:
        self.calls.append("validate_output")


def test_call_runs_the_hooks_in_order_and_times_the_step() -> None:
    step, data = Steps(), dobj()
    assert step(data) is data
    assert step.calls == ["register", "prerequisites", "process", "validate_output"]
    assert "power/max" in data.artifact_schemas
    assert data.get_artifact("power/max")["kw"].tolist() == [4.0]
    assert data.timings["Steps"] >= 0.01  # process() slept that long
    assert data.errors == data.warnings == []


def test_prerequisites_not_met_skip_with_a_warning() -> None:
    step, data = Steps(ready=False), dobj()
    step(data)
    assert step.calls == ["register", "prerequisites"]
    assert [w.message for w in data.warnings] == ["Steps skipped: prerequisites not met"]
    assert not data.failed and "Steps" in data.timings


class NeedsCycles(Processor):
    def validate_prerequisites(self, data_object: PipelineDataObject) -> bool:
        if "cycles/filtered" not in data_object.artifacts:
            raise SkipProcessor("no filtered cycles (CheckSufficientCycles found too few)")
        return True

    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        return data_object.set_artifact("ran", True)


def test_skip_processor_reason_becomes_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="meshinsights")
    data = dobj()
    NeedsCycles()(data)
    [warning] = data.warnings
    assert warning.message == (
        "NeedsCycles skipped: no filtered cycles (CheckSufficientCycles found too few)"
    )
    assert (warning.stage, warning.component) == ("cpu", "NeedsCycles")
    assert data.get_artifact("ran") is None
    assert any(r.getMessage().startswith("NeedsCycles skipped") for r in caplog.records)
    NeedsCycles()(data.set_artifact("cycles/filtered", pd.DataFrame()))
    assert data.get_artifact("ran") is True


class Broken(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        raise KeyError("stage")


class Tolerant(Broken):
    continue_on_error = True


class BadOutput(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        return data_object

    def validate_output(self, data_object: PipelineDataObject) -> None:
        raise ValueError("thresholds missing for stage2")


class WrongReturn(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        return {"not": "the data object"}  # type: ignore[return-value]


def test_a_failure_is_recorded_logged_and_stops_the_chain(caplog: pytest.LogCaptureFixture) -> None:
    data = dobj()
    with pytest.raises(ProcessorError) as raised:
        Broken()(data)
    [error] = data.errors
    assert error.message == "device 'dev-7': cpu stage, processor Broken: KeyError: 'stage'"
    assert str(raised.value) == error.message
    assert isinstance(raised.value.__cause__, KeyError)
    assert "Broken" in data.timings
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == error.message
    assert record.device_id == "dev-7"  # type: ignore[attr-defined]


def test_continue_on_error_records_and_lets_the_chain_go_on() -> None:
    data = dobj()
    assert Tolerant()(data) is data
    assert [e.component for e in data.errors] == ["Tolerant"]


@pytest.mark.parametrize(
    ("step", "cause"),
    [
        (BadOutput(), "ValueError: thresholds missing for stage2"),
        (WrongReturn(), "TypeError: process() must return the data object it was given"),
    ],
)
def test_validate_output_and_wrong_returns_are_errors(step: Processor, cause: str) -> None:
    data = dobj()
    with pytest.raises(ProcessorError):
        step(data)
    assert cause in data.errors[0].message


def test_processor_is_abstract_and_named_by_its_class() -> None:
    with pytest.raises(TypeError):
        Processor()  # type: ignore[abstract]
    assert Broken().name == "Broken"
