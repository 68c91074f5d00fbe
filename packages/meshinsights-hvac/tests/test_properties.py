"""Property tests: any frame of the right columns gives schema-valid results or a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from hvac_test_helpers import T0, data_object_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meshinsights.errors import NormalizationError
from meshinsights.processor import Processor
from meshinsights_hvac.data_object import HVACPipelineDataObject as K
from meshinsights_hvac.normalizers import PowerDataNormalizer
from meshinsights_hvac.params import HVACParams
from meshinsights_hvac.processors import PROCESSOR_CLASSES
from meshinsights_hvac.schemas import HVAC_POWER_SCHEMA, FastSchema

CODES = ["OFF", "G", "Y1", "Y2", "W1", "W2", "W3", "G+Y1", "off", "cool2", None]
POWER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-100, max_value=8000),
    st.sampled_from([0.0, 3000.0, 4500.0, -10.0, 100.0]),
)
ROW = st.tuples(st.integers(min_value=0, max_value=400), POWER, st.sampled_from(CODES))
# Small thresholds so that random frames also reach the later processors.
PARAMS = HVACParams(min_cycles_per_stage=1, min_samples_per_stage=1, min_cycle_minutes=1,
                    min_samples_per_cycle=1, trim_start_s=0, trim_end_s=0)


def frame_of(rows: list[tuple[int, float, str | None]]) -> pd.DataFrame:
    minutes = np.array([r[0] for r in rows], dtype=np.int64)
    return pd.DataFrame({
        "timestamp": T0 + pd.to_timedelta(minutes, unit="min"),
        "power_w": [r[1] for r in rows],
        "stage": [r[2] for r in rows],
    })


def run_chain(data: pd.DataFrame, params: HVACParams) -> K:
    dobj = data_object_for(data)
    processors: list[Processor] = [cls(params) for cls in PROCESSOR_CLASSES]
    for processor in processors:
        processor(dobj)
    return dobj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, max_size=120), params=st.sampled_from([PARAMS, HVACParams()]))
def test_normalizer_and_chain_never_raise_unhandled(
    rows: list[tuple[int, float, str | None]], params: HVACParams
) -> None:
    meta: dict[str, object] = {}
    normalized = PowerDataNormalizer(params).normalize(frame_of(rows), meta)
    assert "warnings" not in meta, meta.get("warnings")
    assert HVAC_POWER_SCHEMA.passes(normalized)
    assert normalized["timestamp"].is_monotonic_increasing
    assert (normalized["power_kw"] >= 0).all()
    assert meta["rows_out"] == len(normalized) <= len(rows)
    dobj = run_chain(normalized, params)
    assert dobj.errors == []
    assert [w.message for w in dobj.warnings if w.component == "schema"] == []
    issues = dobj.get_artifact(K.ARTIFACT_ISSUES_PER_STAGE)
    summary = dobj.get_artifact(K.ARTIFACT_CYCLE_SUMMARY)
    assert set(issues) == set(summary["stage"].astype(str))
    for stage, limits in dobj.get_artifact(K.ARTIFACT_BASELINE_THRESHOLDS).items():
        assert limits["lower_kw"] <= limits["baseline_kw"] < limits["upper_kw"], stage


TEXT = st.one_of(st.none(), st.text(max_size=6), st.sampled_from(["2024-07-01T00:00:00Z",
                                                                  "2024-07-01 01:00", "soon"]))


@settings(max_examples=100, deadline=None)
@given(ts=st.lists(TEXT, min_size=1, max_size=20),
       power=st.lists(st.one_of(st.none(), st.text(max_size=4), st.floats()), min_size=1,
                      max_size=20),
       stage=st.lists(st.one_of(st.none(), st.text(max_size=4), st.integers(-1, 3)),
                      min_size=1, max_size=20))
def test_normalizer_on_arbitrary_values_is_clean_or_names_the_column(
    ts: list[object], power: list[object], stage: list[object]
) -> None:
    n = min(len(ts), len(power), len(stage))
    frame = pd.DataFrame({"timestamp": pd.Series(ts[:n], dtype=object),
                          "power_w": pd.Series(power[:n], dtype=object),
                          "stage": pd.Series(stage[:n], dtype=object)})
    error: NormalizationError | None = None
    try:
        out = PowerDataNormalizer(mode="cool").normalize(frame, {})
    except NormalizationError as exc:
        error = exc
    if error is not None:
        assert any(f"column {c!r}" in str(error) for c in ("timestamp", "power_w", "stage"))
        return
    assert HVAC_POWER_SCHEMA.passes(out)
    run_chain(out, PARAMS)


SCHEMA = FastSchema({
    "a": pa.Column(float, pa.Check.ge(0), nullable=True),
    "b": pa.Column("int64", pa.Check.le(5)),
    "c": pa.Column(str, unique=True),
})


@settings(max_examples=150, deadline=None)
@given(a=st.lists(st.one_of(st.floats(-2, 2), st.just(float("nan"))), min_size=0, max_size=6),
       b=st.lists(st.integers(-10, 10), min_size=0, max_size=6),
       c=st.lists(st.sampled_from(["x", "y", "z", "w", "v", "u"]), min_size=0, max_size=6),
       cast=st.sampled_from(["float64", "int64", "object"]))
def test_fast_schema_agrees_with_pandera(a: list[float], b: list[int], c: list[str],
                                         cast: str) -> None:
    n = min(len(a), len(b), len(c))
    frame = pd.DataFrame({"a": pd.Series(a[:n], dtype="float64"),
                          "b": pd.Series(b[:n], dtype="int64").astype(cast)
                          if cast != "object" else pd.Series(b[:n], dtype=object),
                          "c": pd.Series(c[:n], dtype="str")})
    plain = pa.DataFrameSchema(SCHEMA.columns)
    try:
        plain.validate(frame, lazy=True)
        accepted = True
    except (pa.errors.SchemaErrors, pa.errors.SchemaError):
        accepted = False
    if SCHEMA.passes(frame):
        assert accepted
    if not accepted:
        with pytest.raises((pa.errors.SchemaErrors, pa.errors.SchemaError)):
            SCHEMA.validate(frame, lazy=True)
