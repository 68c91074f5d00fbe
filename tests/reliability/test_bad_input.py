"""Bad input: arbitrary frames give a schema-valid result or a per-device error naming the column;
bad run configs and device lists exit with code 2, name the key or line, and write nothing.

The properties run at least 1,000 examples each (the ``meshinsights-reliability``
hypothesis profile registered in conftest.py); examples stay small (at most 12
rows) so that each property runs in seconds.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reliability_support import cli, write_config

from meshinsights import DeviceUnit, Pipeline, PipelineConfig
from meshinsights.data_source import DataSource
from meshinsights.errors import NormalizationError
from meshinsights_hvac.factories import (
    create_hvac_data_object,
    create_hvac_normalizers,
    create_hvac_processors,
)
from meshinsights_hvac.normalizers import PowerDataNormalizer
from meshinsights_hvac.params import HVACParams
from meshinsights_hvac.schemas import HVAC_POWER_SCHEMA

PROFILE = settings.get_profile("meshinsights-reliability")
BASE = datetime(2025, 2, 5, 6, 0)
ZONES = [None, timezone.utc, ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
KNOWN_CODES = ["OFF", "G", "Y1", "Y2", "W1", "W2", "W3", "G+Y1", "off", "cool1", "heat2", "fan"]
UNKNOWN_CODES = ["Y9", "HEAT", "", "  ", "G+W1+Y1", "Y1+W1", "??", "1.5"]
SMALL = {"min_cycles_per_stage": 1, "min_samples_per_stage": 1, "min_cycle_minutes": 1,
         "min_samples_per_cycle": 1, "trim_start_s": 0, "trim_end_s": 0}

# -- frames -----------------------------------------------------------------------------

MINUTE = st.integers(min_value=0, max_value=40)  # few distinct values: duplicates and disorder
TS_ITEM = st.one_of(
    st.builds(lambda m, z: (BASE + timedelta(minutes=m)).replace(tzinfo=z) if z else
              BASE + timedelta(minutes=m), MINUTE, st.sampled_from(ZONES)),
    st.builds(lambda m, suffix: (BASE + timedelta(minutes=m)).isoformat() + suffix, MINUTE,
              st.sampled_from(["", "Z", "+02:00", "-05:00"])),
    st.sampled_from(["soon", "2025-13-45", "", "NaT"]),
    st.none(),
)
POWER_ITEM = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 3500.0, 4200.0, -0.5, -250.0, 1e300, -1e300, 5e6]),
    st.integers(min_value=-10_000, max_value=10**12),
    st.sampled_from(["3500", "abc", "", "1e3"]),
    st.none(),
    st.booleans(),
)
STAGE_ITEM = st.one_of(
    st.sampled_from(KNOWN_CODES), st.sampled_from(UNKNOWN_CODES),
    st.integers(min_value=-1, max_value=3), st.none(), st.booleans(),
)


@st.composite
def column(draw: st.DrawFn, n: int, items: st.SearchStrategy[Any]) -> Any:
    """A column of n values: mixed Python objects, or one numpy dtype for the whole column."""
    kind = draw(st.sampled_from(["objects", "objects", "ints", "floats", "bools"]))
    if kind == "ints":
        return np.array(draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n)),
                        dtype=np.int64)
    if kind == "floats":
        return np.array(draw(st.lists(st.floats(allow_nan=True, allow_infinity=True),
                                      min_size=n, max_size=n)), dtype=np.float64)
    if kind == "bools":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    values = draw(st.lists(items, min_size=n, max_size=n))
    return pd.Series(values, dtype=object).infer_objects() if draw(st.booleans()) else \
        pd.Series(values, dtype=object)


SANE_TS = st.one_of(
    st.builds(lambda m, z: (BASE + timedelta(minutes=m)).replace(tzinfo=z), MINUTE,
              st.sampled_from(ZONES[1:])),
    st.builds(lambda m: (BASE + timedelta(minutes=m)).isoformat() + "Z", MINUTE),
    st.none(),
)
SANE_POWER = st.one_of(
    st.sampled_from([0.0, 30.0, 3500.0, 3600.0, 4200.0, 4300.0]),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), -0.01, -250.0, 1e300, 5e6]),
    st.none(),
)


@st.composite
def plausible_frames(draw: st.DrawFn) -> pd.DataFrame:
    """The right columns with values in range, salted with NaN, inf, negative and huge power,
    missing values, duplicated and unordered timestamps in mixed zones."""
    n = draw(st.integers(min_value=0, max_value=16))
    minutes = sorted(draw(st.lists(MINUTE, min_size=n, max_size=n)))
    stamps: list[Any] = [BASE.replace(tzinfo=timezone.utc) + timedelta(minutes=m) for m in minutes]
    for i in draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=3)) if n else []:
        stamps[i] = draw(SANE_TS)  # another zone, text, or missing
    if draw(st.booleans()):
        stamps = draw(st.permutations(stamps))
    power = draw(st.lists(st.one_of(st.sampled_from([0.0, 3500.0, 4200.0]), SANE_POWER),
                          min_size=n, max_size=n))
    stage = draw(st.lists(st.sampled_from(["OFF", "Y1", "Y1", "W1", "G+Y1", None]),
                          min_size=n, max_size=n))
    frame = pd.DataFrame({"timestamp": pd.Series(stamps, dtype=object), "power_w": power,
                          "stage": stage}, index=pd.RangeIndex(n))
    if draw(st.booleans()):
        frame = frame.drop(columns="stage")
    return frame


@st.composite
def chaotic_frames(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=12))
    data: dict[str, Any] = {}
    if draw(st.integers(0, 9)):  # now and then no timestamp column at all
        data[draw(st.sampled_from(["timestamp", "timestamp", "ts"]))] = draw(column(n, TS_ITEM))
    if draw(st.integers(0, 9)):
        name = draw(st.sampled_from(["power_w", "power_w", "power_kw", "PowerW", "power", "watts"]))
        data[name] = draw(column(n, POWER_ITEM))
    if draw(st.integers(0, 4)):
        data["stage"] = draw(column(n, STAGE_ITEM))
    if draw(st.integers(0, 5)) == 0:
        data["mode"] = draw(st.lists(st.sampled_from(["cool", "heat", "auto", None]),
                                     min_size=n, max_size=n))
    return pd.DataFrame(data, index=pd.RangeIndex(n))


raw_frames = st.one_of(plausible_frames(), plausible_frames(), chaotic_frames())


NORMALIZER_OPTIONS = st.fixed_dictionaries({
    "power_unit": st.sampled_from([None, "W", "kW"]),
    "timezone": st.sampled_from([None, "America/New_York"]),
    "mode": st.sampled_from([None, "cool", "heat"]),
})


def names_a_column(message: str, frame: pd.DataFrame) -> bool:
    names = {*map(str, frame.columns), "timestamp", "power_w", "stage", "mode"}
    return any(f"'{name}'" in message for name in names) and re.search(r"column", message) is not None


def assert_normalized(frame: pd.DataFrame) -> None:
    HVAC_POWER_SCHEMA.validate(frame)  # raises when the registered schema does not hold
    stamps = frame["timestamp"]
    assert stamps.is_monotonic_increasing and not stamps.duplicated().any()
    power = frame["power_kw"].to_numpy()
    assert np.isfinite(power).all() and (power >= 0).all()


# -- properties -------------------------------------------------------------------------

EXAMPLES = {"normalizer": 0, "chain": 0}
OUTCOMES: dict[str, int] = {}


def outcome(name: str) -> None:
    OUTCOMES[name] = OUTCOMES.get(name, 0) + 1


@PROFILE
@given(frame=raw_frames, options=NORMALIZER_OPTIONS)
def test_normalizer_gives_valid_data_or_an_error_naming_the_column(
    frame: pd.DataFrame, options: dict[str, Any]
) -> None:
    EXAMPLES["normalizer"] += 1
    metadata: dict[str, Any] = {}
    try:
        normalized = PowerDataNormalizer(HVACParams(**SMALL), **options).normalize(frame, metadata)
    except NormalizationError as exc:
        assert names_a_column(str(exc), frame), f"error names no column: {exc}"  # noqa: PT017
        outcome("normalizer: error naming the column")
        return
    outcome(f"normalizer: {'empty' if normalized.empty else 'rows'}")
    assert "warnings" not in metadata, metadata["warnings"]
    assert_normalized(normalized)
    assert metadata["rows_out"] == len(normalized) <= len(frame)


class FrameSource(DataSource):
    """Hands the pipeline the frame under test, as a connector would."""

    def __init__(self, frame: pd.DataFrame) -> None:
        super().__init__("hvac_power", "memory")
        self.frame = frame

    def build_query(self) -> str:
        return "power"

    def fetch(self) -> pd.DataFrame:
        return self.frame


def _pipeline(frame: pd.DataFrame) -> Pipeline:
    return Pipeline(
        data_source_factory=lambda device: {"hvac_power": FrameSource(frame)},
        normalizer_factory=create_hvac_normalizers,
        processor_factory=create_hvac_processors,
        data_object_factory=create_hvac_data_object,
        config=PipelineConfig(batch_fetch=False, log_level="CRITICAL", gil_switch_interval=None),
    )


@PROFILE
@given(frame=raw_frames, options=NORMALIZER_OPTIONS, small=st.booleans())
def test_whole_hvac_chain_gives_valid_artifacts_or_a_device_error(
    frame: pd.DataFrame, options: dict[str, Any], small: bool
) -> None:
    EXAMPLES["chain"] += 1
    parameters = {"start_date": "2025-02-05", "end_date": "2025-02-05",
                  "hvac": SMALL if small else {}, **{k: v for k, v in options.items() if v}}
    results = _pipeline(frame).process_batch([DeviceUnit("dev-1", parameters)])
    data_object = results.device_results["dev-1"]
    if data_object.status == "failed":
        assert len(data_object.errors) == 1
        error = data_object.errors[0]
        assert error.stage == "io" and error.component == "normalizer PowerDataNormalizer of 'hvac_power'"
        assert error.message.startswith("device 'dev-1': io stage, normalizer PowerDataNormalizer")
        assert "NormalizationError" in error.message and names_a_column(error.message, frame), error
        outcome("chain: device error naming the column")
        return
    outcome(f"chain: {data_object.status}")
    assert data_object.status in ("ok", "insufficient_data")
    assert [w.message for w in data_object.warnings if w.component == "schema"] == []
    assert_normalized(data_object.get_dataset("hvac_power"))
    for key, schema in data_object.artifact_schemas.items():
        artifact = data_object.artifacts.get(key)
        if isinstance(artifact, pd.DataFrame):
            schema.validate(artifact)


def test_the_properties_ran_their_examples() -> None:
    """Figures for RELIABILITY.md; runs after the properties in file order."""
    print(f"\nRELIABILITY-FIGURES hypothesis examples: {EXAMPLES}, outcomes: {OUTCOMES}")
    minimum = PROFILE.max_examples
    assert all(n >= minimum for n in EXAMPLES.values()), EXAMPLES
    # Both kinds of outcome must be common, or the properties test little.
    for kind in ("normalizer: rows", "normalizer: error naming the column", "chain: ok",
                 "chain: device error naming the column"):
        assert OUTCOMES.get(kind, 0) >= minimum // 50, (kind, OUTCOMES)


# -- run configs and device lists -----------------------------------------------------------

DEVICES = ("device_id,location_id,control_id,start_date,end_date\n"
           "d1,11688,2916276,2025-02-05,2025-02-06\n")


def _config(tmp_path: Path, fleet_dir: Path, **overrides: Any) -> Path:
    return write_config(
        tmp_path, "run.toml",
        {"plugin": "file", "root": str(fleet_dir), "tables": {"power": "power/*.parquet"}},
        **overrides,
    )


CASES: dict[str, tuple[str, str, list[str]]] = {
    # name: (text to replace, replacement, what the message must name)
    "unknown key": ("batch_size = 20", "batch_sise = 20", ["line 3", "batch_sise"]),
    "unknown table": ("[output]", "[outputs]", ["line", "outputs"]),
    "wrong type": ("batch_size = 20", 'batch_size = "twenty"', ["line 3", "batch_size"]),
    "negative number": ("io_max_workers = 4", "io_max_workers = -1", ["line 4", "io_max_workers"]),
    "missing env var": ('plugin = "file"', 'plugin = "file"\nuser = "${REL_UNSET_VARIABLE}"',
                        ["line 7", "connection.user", "REL_UNSET_VARIABLE"]),
    "unknown connector": ('plugin = "file"', 'plugin = "oracle"', ["[connection]", "'oracle'"]),
    "unknown connector key": ('plugin = "file"', 'plugin = "file"\nrooot = "x"', ["rooot"]),
    "unknown solution": ('solution = "hvac-power"', 'solution = "hvac-powr"', ["'hvac-powr'"]),
    "unknown processor": ("batch_size = 20", 'batch_size = 20\nextra_processors = ["Nope"]',
                          ["'Nope'"]),
    "bad hvac value": ("min_cycles_per_stage = 3", 'min_cycles_per_stage = "many"',
                       ["min_cycles_per_stage"]),
    "not TOML": ("[output]", "[output", ["not valid TOML", "line"]),
}


#: Gaps in core's up-front checks, found by these tests (strict: they fail once fixed).
@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_run_config_exits_2_naming_the_key_and_writes_nothing(
    case: str, fleet_dir: Path, tmp_path: Path
) -> None:
    old, new, named = CASES[case]
    (tmp_path / "devices.csv").write_text(DEVICES)
    config = _config(tmp_path, fleet_dir)
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new, 1))
    result = cli("run", "run.toml", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ")
    for part in named:
        assert part in message, f"{case}: {part!r} not in {message!r}"
    assert not (tmp_path / "out").exists(), "no partial output"


DEVICE_CASES: dict[str, tuple[bytes, list[str]]] = {
    "more values than columns": (DEVICES.encode() + b"d2,11688,2916277,2025-02-05,2025-02-06,x\n",
                                 ["line 3", "more values than columns"]),
    "duplicated device": (DEVICES.encode() + b"d1,11688,2916277,2025-02-05,2025-02-06\n",
                          ["line 3", "'d1'", "line 2"]),
    "empty device id": (DEVICES.encode() + b",11688,2916277,2025-02-05,2025-02-06\n",
                        ["line 3", "device_id is empty"]),
    "no device_id column": (b"id,location_id\nd1,1\n", ["device_id column"]),
    "not UTF-8": (DEVICES.encode() + "d\u00e9,1,2,2025-02-05,2025-02-06\n".encode("latin-1"),
                  ["not UTF-8"]),
    "bad device parameter": (
        b"device_id,location_id,control_id,start_date,end_date,hvac.min_cycles_per_stage\n"
        b"d1,11688,2916276,2025-02-05,2025-02-06,lots\n", ["'d1'", "min_cycles_per_stage"]),
}


@pytest.mark.parametrize("case", sorted([*DEVICE_CASES, "missing file", "a folder"]))
def test_unreadable_device_list_exits_2_naming_the_line_and_writes_nothing(
    case: str, fleet_dir: Path, tmp_path: Path
) -> None:
    named = ["devices.csv"]
    if case in DEVICE_CASES:
        content, named = DEVICE_CASES[case]
        (tmp_path / "devices.csv").write_bytes(content)
    elif case == "a folder":
        (tmp_path / "devices.csv").mkdir()
    _config(tmp_path, fleet_dir)
    result = cli("run", "run.toml", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr[-2000:]
    message = result.stderr.strip().splitlines()[-1]
    for part in named:
        assert part in message, f"{case}: {part!r} not in {message!r}"
    assert not (tmp_path / "out").exists(), "no partial output"
