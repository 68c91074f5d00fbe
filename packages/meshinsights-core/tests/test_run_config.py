"""Run config parsing: structure, env interpolation, errors naming key and line, devices."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from meshinsights import Solution
from meshinsights.config import load_run_config, parse_run_config
from meshinsights.device_list import load_devices
from meshinsights.errors import ConfigError

BASE = textwrap.dedent("""\
    [pipeline]
    solution = "hvac-power"
    batch_size = 5
    extra_processors = ["extra"]

    [connection]
    plugin = "mysql"
    host = "db.internal"
    password = "${MI_TEST_PASSWORD}"

    [devices]
    csv = "devices.csv"

    [hvac]
    min_cycle_minutes = 4
""")
KEYS = {"hvac-power": "hvac"}
ENV = {"MI_TEST_PASSWORD": "pa55-word"}


def parse(text: str, env: dict[str, str] | None = None):
    return parse_run_config(text, parameters_keys=KEYS, environ=ENV if env is None else env)


def test_a_full_config_is_structured() -> None:
    config = parse(BASE)
    assert config.pipeline.solution == "hvac-power"
    assert config.pipeline.batch_size == 5
    assert config.pipeline.extra_processors == ("extra",)
    assert config.connection_plugin == "mysql"
    assert config.connector_config == {"host": "db.internal", "password": "pa55-word"}
    assert config.parameters == {"hvac": {"min_cycle_minutes": 4}}
    assert config.output.formats == ("csv", "parquet", "html")
    assert config.output.artifacts is None  # every DataFrame artifact
    chosen = parse(BASE.replace("[hvac]", '[output]\nartifacts = ["cycles/summary"]\n[hvac]'))
    assert chosen.output.artifacts == ("cycles/summary",)
    assert parse(BASE.replace("[hvac]", "[output]\nartifacts = []\n[hvac]")).output.artifacts == ()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("batch_size = 5", "batch_size = \"x\""), r"line 3: pipeline\.batch_size: expected an integer"),
        (("batch_size = 5", "batchsize = 5"), r"line 3: pipeline\.batchsize: unknown key 'batchsize'"),
        (("batch_size = 5", "batch_size = 0"), r"line 3: pipeline\.batch_size: 'batch_size' must be >= 1"),
        (("[hvac]", "[hvak]"), r"line 14: unknown table or key 'hvak' \('hvac-power' reads \[hvac\]\)"),
        (("csv = \"devices.csv\"", "csv_file = 1"), r"line 12: devices\.csv_file: unknown key"),
        (("batch_size = 5", "stop_on_error = \"yes\""), r"pipeline\.stop_on_error: expected true or false"),
        (("batch_size = 5", "executor = \"fast\""), r"pipeline\.executor: 'executor' must be in"),
        (("[pipeline]", "[pipe]"), r"\[pipeline\] table with a `solution` key is required"),
        (("batch_size = 5", "batch_size = [5"), r"not valid TOML"),
        (("extra_processors = [\"extra\"]", "extra_processors = \"extra\""),
         r"line 4: pipeline\.extra_processors: expected a list of strings, got 'extra'"),
        (("[hvac]", "[output]\nartifacts = \"cycles/summary\"\n[hvac]"),
         r"line 15: output\.artifacts: expected a list of strings"),
        (("[hvac]", "[output]\nartifacts = false\n[hvac]"),
         r"output\.artifacts: expected a list of strings, got False"),
    ],
)
def test_bad_configs_name_the_key_and_line(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        parse(BASE.replace(*change))


def test_missing_environment_variable_names_key_variable_and_line() -> None:
    expected = r"line 9: connection\.password: environment variable MI_TEST_PASSWORD"
    with pytest.raises(ConfigError, match=expected):
        parse(BASE, env={})


def test_missing_devices_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"\[devices\] needs"):
        parse(BASE.replace('csv = "devices.csv"', ""))


def test_secret_value_never_in_error_messages() -> None:
    with pytest.raises(ConfigError) as info:
        parse(BASE.replace("batch_size = 5", "batch_size = -1"))
    assert "pa55-word" not in str(info.value)


def test_unreadable_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read run config"):
        load_run_config(tmp_path / "missing.toml")


SOLUTION = Solution(
    name="hvac-power", data_source_factory=dict, normalizer_factory=dict, processor_factory=list,
    parameters_key="hvac", default_parameters={"min_cycle_minutes": 5, "trim_start_s": 120},
)


def _write(tmp_path: Path, csv_text: str, extra: str = "") -> Path:
    (tmp_path / "devices.csv").write_text(csv_text)
    path = tmp_path / "run.toml"
    path.write_text(BASE + extra)
    return path


def test_devices_from_csv_carry_connection_and_merged_parameters(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "device_id,location_id,control_id,hvac.trim_start_s\nd1,L1,C1,60\nd2,L1,C2,\n",
        '\n[[devices.inline]]\ndevice_id = "d3"\nlocation_id = "L2"\n',
    )
    devices = load_devices(load_run_config(path, parameters_keys=KEYS, environ=ENV), SOLUTION)
    assert [d.device_id for d in devices] == ["d1", "d2", "d3"]
    first = devices[0].parameters
    assert first["location_id"] == "L1" and first["control_id"] == "C1"
    assert first["connection"]["plugin"] == "mysql"
    # defaults < run [hvac] < device's own column
    assert first["hvac"] == {"min_cycle_minutes": 4, "trim_start_s": "60"}
    assert devices[1].parameters["hvac"] == {"min_cycle_minutes": 4, "trim_start_s": 120}


@pytest.mark.parametrize(
    ("csv_text", "expected"),
    [
        ("location_id\nL1\n", "header must have a device_id column"),
        ("device_id,x\na,1\na,2\n", r"line 3: device_id 'a' already given at .*line 2"),
        ("device_id,x\n,1\n", r"line 2: device_id is empty"),
        ("device_id,x\na,1,2\n", r"line 2: more values than columns"),
    ],
)
def test_bad_device_csv_names_the_line(tmp_path: Path, csv_text: str, expected: str) -> None:
    config = load_run_config(_write(tmp_path, csv_text), parameters_keys=KEYS, environ=ENV)
    with pytest.raises(ConfigError, match=expected):
        load_devices(config, SOLUTION)


def test_missing_device_csv(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(BASE)
    config = load_run_config(path, parameters_keys=KEYS, environ=ENV)
    with pytest.raises(ConfigError, match="cannot read devices CSV"):
        load_devices(config, SOLUTION)
