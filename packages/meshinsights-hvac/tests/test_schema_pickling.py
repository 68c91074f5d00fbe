"""The artifact schemas travel to worker processes by name, and copies stay copies."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable

import pandas as pd
import pytest

from meshinsights_hvac import schemas
from meshinsights_hvac.data_object import HVACPipelineDataObject
from meshinsights_hvac.params import HVACParams
from meshinsights_hvac.processors import CurateCycleMediansPerStage, FilterValidCycles
from meshinsights_hvac.schemas import CYCLE_SUMMARY_SCHEMA, FastSchema

PUBLISHED = [getattr(schemas, name) for name in schemas.__all__
             if isinstance(getattr(schemas, name), FastSchema)]


@pytest.mark.parametrize("schema", PUBLISHED, ids=lambda s: s.name)
def test_every_module_schema_pickles_as_its_name(schema: FastSchema) -> None:
    blob = pickle.dumps(schema)
    assert pickle.loads(blob) is schema
    assert len(blob) < 200  # a reference, not ~2 KB of columns and checks


def test_copies_are_new_schemas_that_pickle_by_value() -> None:
    deep, shallow = copy.deepcopy(CYCLE_SUMMARY_SCHEMA), copy.copy(CYCLE_SUMMARY_SCHEMA)
    for clone in (deep, shallow):
        assert clone is not CYCLE_SUMMARY_SCHEMA and clone == CYCLE_SUMMARY_SCHEMA
        again = pickle.loads(pickle.dumps(clone))
        assert again is not CYCLE_SUMMARY_SCHEMA and again == CYCLE_SUMMARY_SCHEMA
    # pandera's own "modified copy" methods leave the published schema alone.
    changed = CYCLE_SUMMARY_SCHEMA.update_column("valid", nullable=True)
    assert changed.columns["valid"].nullable
    assert not CYCLE_SUMMARY_SCHEMA.columns["valid"].nullable
    assert pickle.loads(pickle.dumps(changed)).columns["valid"].nullable


def test_publish_refuses_a_name_that_is_another_object() -> None:
    with pytest.raises(ValueError, match="is not this schema"):
        copy.deepcopy(CYCLE_SUMMARY_SCHEMA).publish(schemas.__name__, "CYCLE_SUMMARY_SCHEMA")


def test_a_device_data_object_carries_its_schemas_by_name(
    make_hand_object: Callable[[], HVACPipelineDataObject],
) -> None:
    data_object = make_hand_object()
    params = HVACParams(min_cycles_per_stage=2, min_samples_per_stage=5)
    for processor in (FilterValidCycles(params), CurateCycleMediansPerStage(params)):
        processor(data_object)
    assert not data_object.errors, data_object.errors
    restored = pickle.loads(pickle.dumps(data_object))
    assert set(restored.artifact_schemas) >= {"cycles/summary", "cycles/medians"}
    for key, schema in restored.artifact_schemas.items():
        assert schema is data_object.artifact_schemas[key]
    assert len(pickle.dumps(data_object.artifact_schemas)) < 200 * len(data_object.artifact_schemas)
    pd.testing.assert_frame_equal(
        restored.get_artifact("cycles/summary"), data_object.get_artifact("cycles/summary")
    )
