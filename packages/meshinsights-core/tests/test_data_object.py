"""PipelineDataObject: datasets, artifacts with schema checks, timestamped errors and warnings."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import pandera.pandas as pa
import pytest

from meshinsights import FrozenDatasetError, Message, PipelineDataObject

CYCLES_SCHEMA = pa.DataFrameSchema(
    {
        "power_kw": pa.Column(float, pa.Check.ge(0)),
        "cycle_id": pa.Column(str, nullable=False),
        "stage": pa.Column(str, pa.Check.isin(["stage1", "stage2"])),
    }
)


def make(datasets: dict[str, pd.DataFrame] | None = None, freeze: bool = True) -> PipelineDataObject:
    return PipelineDataObject("hvac", {"device_id": "dev-1"}, datasets, freeze=freeze)


def test_get_dataset_and_a_clear_key_error() -> None:
    frame = pd.DataFrame({"power_kw": [1.0, 2.0]})
    dobj = make({"hvac_power": frame, "connectivity": pd.DataFrame()})
    pd.testing.assert_frame_equal(dobj.get_dataset("hvac_power"), frame)
    expected = r"no normalized dataset 'weather' \(available: connectivity, hvac_power\)"
    with pytest.raises(KeyError, match=expected):
        dobj.get_dataset("weather")


def test_artifacts_are_namespaced_and_listed_by_prefix() -> None:
    dobj = make()
    returned = dobj.set_artifact("cycles/summary", {"n": 3}).set_artifact("cycles/data", [1])
    assert returned is dobj  # chainable, as the architecture shows
    dobj.set_artifact("baseline/thresholds", {"stage1": 2.5})
    assert dobj.list_artifacts() == ["baseline/thresholds", "cycles/data", "cycles/summary"]
    assert dobj.list_artifacts("cycles/") == ["cycles/data", "cycles/summary"]
    assert dobj.get_artifact("cycles/summary") == {"n": 3}
    assert dobj.get_artifact("missing") is None
    assert dobj.get_artifact("missing", {}) == {}


def test_errors_and_warnings_are_timestamped() -> None:
    before = datetime.now(timezone.utc)
    dobj = make().add_error("fetch failed", stage="io", component="src").add_warning("few cycles")
    after = datetime.now(timezone.utc)
    [error], [warning] = dobj.errors, dobj.warnings
    assert isinstance(error, Message)
    assert (error.message, error.stage, error.component) == ("fetch failed", "io", "src")
    assert warning.message == "few cycles"
    for message in (error, warning):
        assert message.timestamp.tzinfo is not None
        assert before <= message.timestamp <= after
    assert error.to_dict()["timestamp"] == error.timestamp.isoformat()
    assert dobj.failed and dobj.status == "failed"
    assert not make().add_warning("w").failed


def test_a_valid_artifact_passes_its_schema_silently() -> None:
    dobj = make().register_artifact_schema("cycles/filtered", CYCLES_SCHEMA)
    good = pd.DataFrame({"power_kw": [1.5], "cycle_id": ["c1"], "stage": ["stage1"]})
    dobj.set_artifact("cycles/filtered", good)
    assert dobj.warnings == []
    pd.testing.assert_frame_equal(dobj.get_artifact("cycles/filtered"), good)


def test_a_failed_schema_check_is_a_warning_naming_the_key_and_every_failing_check() -> None:
    dobj = make()
    assert dobj.register_artifact_schema("cycles/filtered", CYCLES_SCHEMA) is dobj
    bad = pd.DataFrame(
        {
            "power_kw": [-1.0, 2.0, -3.0],
            "cycle_id": ["c1", None, "c3"],
            "stage": ["stage1", "stage9", "stage2"],
        }
    )
    dobj.set_artifact("cycles/filtered", bad)  # never raises

    assert dobj.errors == []
    [warning] = dobj.warnings
    text = warning.message
    assert text.startswith("artifact 'cycles/filtered' does not match its schema: ")
    assert "column 'power_kw' failed greater_than_or_equal_to(0) (2 case(s)" in text
    assert "column 'cycle_id' failed not_nullable" in text
    assert "column 'stage' failed isin(['stage1', 'stage2']) (1 case(s), e.g. 'stage9')" in text
    assert warning.component == "schema"
    assert dobj.get_artifact("cycles/filtered") is bad  # stored as given


def test_a_missing_column_is_reported_too() -> None:
    dobj = make().register_artifact_schema("cycles/filtered", CYCLES_SCHEMA)
    dobj.set_artifact("cycles/filtered", pd.DataFrame({"power_kw": [1.0]}))
    [warning] = dobj.warnings
    assert "'cycle_id'" in warning.message and "'stage'" in warning.message


def test_schema_checks_only_frames_under_their_key() -> None:
    dobj = make().register_artifact_schema("cycles/filtered", CYCLES_SCHEMA)
    dobj.set_artifact("cycles/filtered", {"not": "a frame"})
    dobj.set_artifact("other", pd.DataFrame({"power_kw": [-5.0]}))
    assert dobj.warnings == []


def test_frozen_datasets_are_read_only_and_hand_out_copies() -> None:
    frame = pd.DataFrame({"power_kw": [1.0, 2.0]})
    dobj = make({"hvac_power": frame})
    with pytest.raises(FrozenDatasetError, match=r"'hvac_power' is read-only.*set_artifact"):
        dobj.normalized_data["hvac_power"] = frame  # type: ignore[index]
    with pytest.raises(FrozenDatasetError):
        del dobj.normalized_data["hvac_power"]  # type: ignore[attr-defined]
    copy = dobj.get_dataset("hvac_power")
    copy["power_kw"] = 0.0
    copy.loc[0, "power_kw"] = 9.0
    assert dobj.get_dataset("hvac_power")["power_kw"].tolist() == [1.0, 2.0]
    assert frame["power_kw"].tolist() == [1.0, 2.0]


def test_unfrozen_datasets_are_the_stored_frames() -> None:
    frame = pd.DataFrame({"power_kw": [1.0]})
    dobj = make({"hvac_power": frame}, freeze=False)
    assert dobj.get_dataset("hvac_power") is frame


def test_release_keeps_artifacts_and_repr_is_short() -> None:
    dobj = make({"hvac_power": pd.DataFrame({"a": [1]})}).set_artifact("k", 1)
    assert "datasets=['hvac_power']" in repr(dobj) and "status='ok'" in repr(dobj)
    dobj.release_normalized_data()
    assert len(dobj.normalized_data) == 0 and dobj.get_artifact("k") == 1
    assert dobj.device_id == "dev-1"
