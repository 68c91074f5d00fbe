"""DataNormalizer.normalize: input checks, pure transform, schema problems as metadata warnings."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest

from meshinsights import DataNormalizer, NormalizationError


class PowerNormalizer(DataNormalizer):
    required_columns = ("Time", "PowerKW")

    def get_schema(self) -> pa.DataFrameSchema:
        return pa.DataFrameSchema(
            {
                "timestamp": pa.Column("datetime64[us, UTC]", nullable=False),
                "power_kw": pa.Column(float, pa.Check.ge(0), nullable=False),
            },
            strict=True,
        )

    def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
        out = pd.DataFrame(
            {
                "timestamp": pd.to_datetime(data["Time"], utc=True),
                "power_kw": data["PowerKW"].astype(float),
            }
        )
        if metadata is not None:
            metadata["units"] = "kW"
        return out


def raw(power: list[float]) -> pd.DataFrame:
    times = pd.date_range("2025-02-05", periods=len(power), freq="h", tz="UTC")
    return pd.DataFrame({"Time": times.astype(str), "PowerKW": power, "Extra": 1})


def test_normalize_transforms_and_records_metadata() -> None:
    metadata: dict[str, Any] = {}
    data = raw([1.0, 2.5])
    out = PowerNormalizer().normalize(data, metadata)
    assert list(out.columns) == ["timestamp", "power_kw"]
    assert str(out["timestamp"].dtype) == "datetime64[us, UTC]"
    assert metadata == {"normalizer": "PowerNormalizer", "rows_in": 2, "rows_out": 2, "units": "kW"}
    assert list(data.columns) == ["Time", "PowerKW", "Extra"]  # the input is untouched
    pd.testing.assert_frame_equal(out, PowerNormalizer().normalize(data))  # deterministic


def test_missing_columns_fail_naming_each_column() -> None:
    with pytest.raises(NormalizationError) as raised:
        PowerNormalizer().normalize(pd.DataFrame({"Time": ["2025-01-01"], "Watts": [3]}))
    assert str(raised.value) == (
        "PowerNormalizer: missing column(s) 'PowerKW' (columns present: Time, Watts)"
    )


def test_non_frames_are_refused_both_ways() -> None:
    with pytest.raises(NormalizationError, match="expected a pandas DataFrame, got list"):
        PowerNormalizer().normalize([1, 2])  # type: ignore[arg-type]

    class ReturnsDict(DataNormalizer):
        def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> Any:
            return {"rows": len(data)}

    with pytest.raises(NormalizationError, match=r"ReturnsDict.transform returned dict, not a DataFrame"):
        ReturnsDict().normalize(pd.DataFrame({"a": [1]}))


def test_schema_problems_are_warnings_in_the_metadata() -> None:
    metadata: dict[str, Any] = {}
    out = PowerNormalizer().normalize(raw([1.0, -2.0, -0.5]), metadata)
    assert len(out) == 3  # the data goes on to the processors
    [problem] = metadata["warnings"]
    assert problem.startswith("PowerNormalizer: normalized data does not match its schema: ")
    assert "column 'power_kw' failed greater_than_or_equal_to(0) (2 case(s), e.g. -2.0, -0.5)" in problem


def test_no_schema_means_no_validation() -> None:
    class Identity(DataNormalizer):
        def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
            return data

    metadata: dict[str, Any] = {}
    Identity().normalize(pd.DataFrame({"power_kw": [-1.0]}), metadata)
    assert "warnings" not in metadata


def test_schema_warnings_reach_the_data_object(fleet_factory: Any) -> None:
    class StrictTelemetry(DataNormalizer):
        def get_schema(self) -> pa.DataFrameSchema:
            return pa.DataFrameSchema({"PowerKW": pa.Column(float, pa.Check.lt(3))})

        def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
            return data

    fleet = fleet_factory(2, rows=5)
    pipeline = fleet.pipeline()
    pipeline.normalizer_factory = lambda device: {"telemetry": StrictTelemetry()}
    pipeline.processor_factory = lambda device: []
    results = pipeline.run_batch(fleet.devices)
    assert results.successful_devices == fleet.device_ids
    for device_id in fleet.device_ids:
        [warning] = results.device_results[device_id].warnings
        assert (warning.stage, warning.component) == ("io", "normalizer StrictTelemetry of 'telemetry'")
        assert "column 'PowerKW' failed less_than(3) (2 case(s), e.g. 3.0, 4.0)" in warning.message
