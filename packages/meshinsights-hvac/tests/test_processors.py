"""Each processor on small hand-made frames whose results were worked out by hand.

The worked example (conftest.HAND_SPEC), 1-minute rows from 00:00:
A  cool1 00:02-00:11, staged into B cool2 00:12-00:19 (one call), trimmed to
   00:04-00:10 (median 3.0, MAD 0) and 00:14-00:18 (median 4.2, MAD 0.1);
C  cool1 00:23-00:25: 3 min after A+B ended -> too short and a short cycle;
D  cool1 00:40-00:47 after a data gap: draws 0.05 kW -> no_power;
E  cool1 00:50-00:55, 2 min after D -> valid (3 samples left) but a short cycle;
F  cool1 00:60-00:66 after a gap that splits E from F -> a new cycle and call,
   whose start is not observed, so it is not judged as short.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from hvac_test_helpers import T0, data_object_for, minutes_frame, normalize, r

from meshinsights_hvac.data_object import HVACPipelineDataObject as K
from meshinsights_hvac.params import HVACParams
from meshinsights_hvac.processors import (
    CalculateBaselinePowerThresholds,
    CheckSufficientCycles,
    ClassifyPowerVarianceCycleMedian,
    ClassifyPowerVarianceFilteredData,
    CurateCycleMediansPerStage,
    FilterValidCycles,
)

LOW = HVACParams(min_cycles_per_stage=2, min_samples_per_stage=5)
WINDOW = (T0.to_pydatetime(), (T0 + pd.Timedelta(minutes=70)).to_pydatetime())


def chain(params: HVACParams, window: tuple = WINDOW) -> list:
    return [FilterValidCycles(params), CheckSufficientCycles(params, window=window),
            ClassifyPowerVarianceFilteredData(params), CurateCycleMediansPerStage(params),
            ClassifyPowerVarianceCycleMedian(params), CalculateBaselinePowerThresholds(params)]


def run(dobj: K, params: HVACParams = LOW, upto: int = 6) -> K:
    for processor in chain(params)[:upto]:
        processor(dobj)
    return dobj


def at(minute: int) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minute)


def test_filter_valid_cycles_summary(make_hand_object: Callable[[], K]) -> None:
    dobj = run(make_hand_object(), upto=1)
    assert dobj.errors == [] and dobj.warnings == []
    s = dobj.get_artifact(K.ARTIFACT_CYCLE_SUMMARY)
    assert s["cycle_id"].tolist() == ["cool1-00001", "cool2-00002", "cool1-00003",
                                      "cool1-00004", "cool1-00005", "cool1-00006"]
    assert s["stage"].astype(str).tolist() == ["cool1", "cool2", "cool1", "cool1", "cool1", "cool1"]
    assert s["staged_from"].astype(object).where(s["staged_from"].notna(), None).tolist() == [
        None, "cool1", None, None, None, None]
    assert s["call_id"].tolist() == [0, 0, 1, 2, 3, 4]
    assert s["start"].tolist() == [at(2), at(12), at(23), at(40), at(50), at(60)]
    assert s["end"].tolist() == [at(12), at(20), at(26), at(48), at(56), at(67)]
    assert s["duration_min"].tolist() == [10, 8, 3, 8, 6, 7]
    assert s["n_rows"].tolist() == [10, 8, 3, 8, 6, 7]
    assert s["n_samples"].tolist() == [7, 5, 0, 5, 3, 4]
    np.testing.assert_allclose(s["median_kw"], [3.0, 4.2, np.nan, 0.05, 3.0, 3.0])
    np.testing.assert_allclose(s["mad_kw"], [0.0, 0.1, np.nan, 0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(s["off_before_min"], [np.nan, np.nan, 3, 14, 2, 4])
    assert s["valid"].tolist() == [True, True, False, False, True, True]
    assert s["reject_reason"].astype(object).where(s["reject_reason"].notna(), None).tolist() == [
        None, None, "too_short", "no_power", None, None]
    assert s["short_cycle"].tolist() == [False, False, True, False, True, False]


def test_filter_valid_cycles_keeps_trimmed_rows_of_valid_cycles(
    make_hand_object: Callable[[], K],
) -> None:
    dobj = run(make_hand_object(), upto=1)
    f = dobj.get_artifact(K.ARTIFACT_FILTERED_DATA)
    expected = r(4, 10) + r(14, 18) + r(52, 54) + r(62, 65)
    assert f["timestamp"].tolist() == [at(m) for m in expected]
    assert f["cycle_id"].tolist() == (["cool1-00001"] * 7 + ["cool2-00002"] * 5
                                      + ["cool1-00005"] * 3 + ["cool1-00006"] * 4)
    assert list(f.columns) == ["timestamp", "power_kw", "stage", "cycle_id"]
    np.testing.assert_allclose(f["power_kw"].to_numpy()[:12],
                               [3, 3, 3, 3, 3, 3.1, 3.2, 4.0, 4.1, 4.2, 4.3, 4.4])


def test_sufficiency_and_coverage(make_hand_object: Callable[[], K]) -> None:
    dobj = run(make_hand_object(), upto=2)
    t = dobj.get_artifact(K.ARTIFACT_SUFFICIENCY)
    assert t["stage"].astype(str).tolist() == ["cool1", "cool2"]
    assert t["n_cycles"].tolist() == [5, 1]
    assert t["n_valid_cycles"].tolist() == [3, 1]
    assert t["n_filtered_samples"].tolist() == [14, 5]
    assert t["sufficient"].tolist() == [True, False]
    # 58 rows present out of the 70 one-minute rows of the window
    np.testing.assert_allclose(t["coverage"], [58 / 70] * 2)
    assert any("coverage 0.829" in w.message for w in dobj.warnings)
    assert dobj.status == "ok"


def test_variance_medians_baseline_and_issues(make_hand_object: Callable[[], K]) -> None:
    dobj = run(make_hand_object())
    assert dobj.errors == []
    assert not [w for w in dobj.warnings if w.component == "schema"]
    v = dobj.get_artifact(K.ARTIFACT_VARIANCE_FILTERED)
    assert v["stage"].astype(str).tolist() == ["cool1"]  # cool2 is insufficient: left out
    assert v[["n_samples", "n_cycles"]].iloc[0].tolist() == [14, 3]
    assert v["median_kw"].iloc[0] == 3.0 and v["mad_kw"].iloc[0] == 0.0   # zero MAD
    assert v["within_cycle_cv"].iloc[0] == 0.0
    assert str(v["variance_class"].iloc[0]) == "stable"

    m = dobj.get_artifact(K.ARTIFACT_CYCLE_MEDIANS)
    assert m["cycle_id"].tolist() == ["cool1-00001", "cool1-00005", "cool1-00006"]
    assert m["within_cycle_cv"].tolist() == [0.0, 0.0, 0.0]
    assert m["outlier"].tolist() == [False] * 3 and m["modified_z"].isna().all()

    cm = dobj.get_artifact(K.ARTIFACT_VARIANCE_CYCLE_MEDIANS)
    assert cm[["median_kw", "mad_kw", "robust_cv"]].iloc[0].tolist() == [3.0, 0.0, 0.0]
    assert str(cm["cycle_median_class"].iloc[0]) == "stable"

    # band = max(3 * 1.4826 * 0, 0.15 * 3.0, 0.1) = 0.45
    th = dobj.get_artifact(K.ARTIFACT_BASELINE_THRESHOLDS)
    assert th.keys() == {"cool1"}
    assert th["cool1"]["baseline_kw"] == 3.0
    assert th["cool1"]["band_kw"] == pytest.approx(0.45)
    assert th["cool1"]["lower_kw"] == pytest.approx(2.55)
    assert th["cool1"]["upper_kw"] == pytest.approx(3.45)
    assert th["cool1"]["n_cycles_used"] == 3
    table = dobj.get_artifact(K.ARTIFACT_BASELINE_THRESHOLDS_TABLE)
    assert table["upper_kw"].tolist() == [pytest.approx(3.45)]
    # 2 short cycles over less than a day (floored to 1 day) is not short cycling;
    # one no-power cycle is below no_power_min_cycles = 2.
    assert dobj.get_artifact(K.ARTIFACT_ISSUES_PER_STAGE) == {
        "cool1": [], "cool2": ["insufficient_cycles"]}


def test_default_params_make_the_device_insufficient(make_hand_object: Callable[[], K]) -> None:
    dobj = run(make_hand_object(), params=HVACParams())
    assert dobj.status == "insufficient_data" and dobj.errors == []
    skipped = [w.component for w in dobj.warnings if "skipped" in w.message]
    assert skipped == ["ClassifyPowerVarianceFilteredData", "CurateCycleMediansPerStage",
                       "ClassifyPowerVarianceCycleMedian"]
    assert dobj.get_artifact(K.ARTIFACT_BASELINE_THRESHOLDS) == {}
    assert dobj.get_artifact(K.ARTIFACT_ISSUES_PER_STAGE) == {
        "cool1": ["insufficient_cycles"], "cool2": ["insufficient_cycles"]}


def test_empty_data() -> None:
    empty = normalize(minutes_frame([]))
    assert len(empty) == 0
    dobj = run(data_object_for(empty))
    assert dobj.errors == []
    assert dobj.status == "insufficient_data"
    assert len(dobj.get_artifact(K.ARTIFACT_CYCLE_SUMMARY)) == 0
    assert len(dobj.get_artifact(K.ARTIFACT_FILTERED_DATA)) == 0
    assert dobj.get_artifact(K.ARTIFACT_ISSUES_PER_STAGE) == {}
    assert not [w for w in dobj.warnings if w.component == "schema"]


def _calls(stage: str, count: int, on: int, off: int, start: int = 0,
           kw: float | list[float] = 3.0) -> list:
    spec, t = [], start
    for i in range(count):
        power = kw[i] if isinstance(kw, list) else kw
        spec += [(r(t, t + on - 1), stage, power), (r(t + on, t + on + off - 1), "OFF", 0.0)]
        t += on + off
    return spec


def issues_of(spec: list, params: HVACParams = LOW) -> dict[str, list[str]]:
    dobj = run(data_object_for(normalize(minutes_frame(spec))), params=params)
    assert dobj.errors == []
    return dobj.get_artifact(K.ARTIFACT_ISSUES_PER_STAGE)


def test_stage_with_no_valid_cycle_is_insufficient_and_left_out() -> None:
    spec = [*_calls("Y1", 6, 10, 10), *_calls("W1", 2, 3, 10, start=200)]
    dobj = run(data_object_for(normalize(minutes_frame(spec))), params=HVACParams())
    suff = dobj.get_artifact(K.ARTIFACT_SUFFICIENCY).set_index(
        dobj.get_artifact(K.ARTIFACT_SUFFICIENCY)["stage"].astype(str))
    assert suff.loc["heat1", "n_valid_cycles"] == 0 and not suff.loc["heat1", "sufficient"]
    assert dobj.get_artifact(K.ARTIFACT_VARIANCE_FILTERED)["stage"].astype(str).tolist() == ["cool1"]
    assert set(dobj.get_artifact(K.ARTIFACT_BASELINE_THRESHOLDS)) == {"cool1"}
    assert dobj.get_artifact(K.ARTIFACT_ISSUES_PER_STAGE) == {
        "cool1": [], "heat1": ["insufficient_cycles"]}


def test_no_power_when_called_needs_two_cycles() -> None:
    one = [*_calls("Y1", 5, 10, 10), *_calls("Y1", 1, 10, 10, start=100, kw=0.1)]
    two = [*_calls("Y1", 5, 10, 10), *_calls("Y1", 2, 10, 10, start=100, kw=0.1)]
    assert issues_of(one) == {"cool1": []}
    assert issues_of(two) == {"cool1": ["no_power_when_called"]}


def test_short_cycling_by_calls_per_clock_hour() -> None:
    # 6 calls of 4 min on / 6 off start within 00:00-00:59 (> 5 per hour);
    # their off time of 6 min is not short and their calls are long enough.
    busy = _calls("Y1", 6, 4, 6)
    calm = _calls("Y1", 5, 4, 8)  # 5 calls within the hour is allowed
    assert issues_of([*busy, *_calls("Y1", 5, 10, 10, start=60)])["cool1"] == ["short_cycling"]
    assert issues_of([*calm, *_calls("Y1", 5, 10, 10, start=60)])["cool1"] == []


def test_short_cycling_by_short_cycles_per_day() -> None:
    # 11 restarts after 2 minutes off within one day of data -> more than 10 per day
    spec = [*_calls("Y1", 12, 10, 2), (r(144, 1439), "OFF", 0.0)]
    assert issues_of(spec)["cool1"] == ["short_cycling"]
    spec10 = [*_calls("Y1", 11, 10, 2), (r(132, 1439), "OFF", 0.0)]
    assert issues_of(spec10)["cool1"] == []


def test_unstable_power_inside_cycles() -> None:
    wobble = [3.0, 3.0, 2.4, 3.6, 2.4, 3.6, 2.4, 3.6, 3.0, 3.0]  # trimmed: MAD 0.6 of 3.0
    spec = []
    for i in range(5):
        spec += [(r(i * 20, i * 20 + 9), "Y1", wobble), (r(i * 20 + 10, i * 20 + 19), "OFF", 0.0)]
    assert issues_of(spec)["cool1"] == ["unstable_power"]


def test_drift_outliers_out_of_band_and_inversion() -> None:
    drifting = _calls("Y1", 8, 10, 10, kw=[2.0, 2.3, 2.6, 2.9, 3.2, 3.5, 3.8, 4.1])
    assert issues_of(drifting)["cool1"] == ["drifting_cycle_medians"]
    # 3 of 10 cycles at 4.5 kW: outliers (kept out of the baseline) and out of band
    band = _calls("Y1", 10, 10, 10, kw=[3.0, 3.01, 2.99, 3.0, 4.5, 4.5, 4.5, 3.02, 2.98, 3.0])
    dobj = run(data_object_for(normalize(minutes_frame(band))))
    medians = dobj.get_artifact(K.ARTIFACT_CYCLE_MEDIANS)
    assert medians["outlier"].tolist() == [False] * 4 + [True] * 3 + [False] * 3
    assert dobj.get_artifact(K.ARTIFACT_BASELINE_THRESHOLDS)["cool1"]["n_cycles_used"] == 7
    assert dobj.get_artifact(K.ARTIFACT_ISSUES_PER_STAGE)["cool1"] == ["out_of_band_cycles"]
    # cool2 drawing less than cool1: staging is failing
    spec = []
    for i in range(6):
        t = i * 30
        spec += [(r(t, t + 9), "Y1", 3.0), (r(t + 10, t + 19), "Y2", 2.8),
                 (r(t + 20, t + 29), "OFF", 0.0)]
    assert issues_of(spec) == {"cool1": [], "cool2": ["stage_power_inverted"]}


def test_bad_dataset_is_a_clear_processor_error() -> None:
    frame = normalize(minutes_frame(_calls("Y1", 2, 10, 10)))
    broken = frame.assign(cycle_id=frame["cycle_id"].where(frame.index != 3, "cool1-00099"))
    dobj = data_object_for(broken)
    from meshinsights.errors import ProcessorError

    with pytest.raises(ProcessorError, match=r"not consecutive|interrupted"):
        FilterValidCycles(LOW)(dobj)
    assert "FilterValidCycles" in dobj.errors[0].message
