"""PowerDataRetrieval: queries per connector language, values always as parameters."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import meshinsights_hvac.plugin as hvac_plugin
from meshinsights import DeviceUnit
from meshinsights.plugins import PluginHost
from meshinsights.testing import INJECTION_PAYLOADS, isolated_host
from meshinsights_hvac.data_sources import PowerDataRetrieval, device_window
from meshinsights_hvac.demo import generate_fleet, generate_fleet_frames
from meshinsights_hvac.factories import create_hvac_data_sources, create_hvac_normalizers
from meshinsights_hvac.params import PowerSource

START, END = device_window("2025-02-05", date(2025, 2, 6))


def source(plugin: str, **kw: object) -> PowerDataRetrieval:
    return PowerDataRetrieval("11688", "2916276", START, END, {"plugin": plugin, **kw})


def test_window_is_whole_days_in_utc_or_local() -> None:
    assert (pd.Timestamp("2025-02-05", tz="UTC"), pd.Timestamp("2025-02-07", tz="UTC")) == (START, END)
    start, end = device_window("2025-07-01", "2025-07-01", "America/New_York")
    assert (start, end) == (pd.Timestamp("2025-07-01 04:00", tz="UTC"),
                            pd.Timestamp("2025-07-02 04:00", tz="UTC"))
    with pytest.raises(ValueError, match="end_date 2025-01-01 is before start_date"):
        device_window("2025-02-01", "2025-01-01")
    with pytest.raises(ValueError, match="start_date must be a date"):
        device_window("soon", "2025-01-01")
    assert device_window("2025-02-05T13:00:00", "2025-02-05 23:59")[0] == START
    for trailing in ("2025-02-05'; drop", "2025-02-05 | take 1", "2025-02-05\n1"):
        with pytest.raises(ValueError, match="start_date must be a date"):
            device_window(trailing, "2025-02-06")


def test_queries_per_connector() -> None:
    memory = source("memory")
    assert memory.build_query() == "power"
    assert memory.build_parameters() == {"location_id": "11688", "control_id": "2916276",
                                         "timestamp__ge": START, "timestamp__lt": END}
    file = source("file", root="data")
    assert file.build_query() == (
        'SELECT "location_id", "control_id", "timestamp", "power_w", "stage" FROM "power" '
        'WHERE "location_id" = $location_id AND "control_id" = $control_id '
        'AND "timestamp" >= $start AND "timestamp" < $end ORDER BY "timestamp"')
    mysql = source("mysql", host="db")
    assert mysql.build_query().startswith("SELECT `location_id`, `control_id`")
    assert "`location_id` = %(location_id)s AND `control_id` = %(control_id)s" in mysql.build_query()
    params = mysql.build_parameters()
    assert isinstance(params, dict) and params["start"].tzinfo is None
    adx = source("adx", cluster="https://c", database="d")
    kql = adx.build_query()
    assert kql.startswith("declare query_parameters(location_id:string, control_id:string, "
                          "start:datetime, end:datetime);")
    assert "| where ['location_id'] == _location and ['control_id'] == _control" in kql
    assert kql.endswith("| order by ['timestamp'] asc")
    site = source("sitesage", base_url="http://x")
    assert site.build_query() == "/v1/locations/{location_id}/controls/{control_id}/power"
    assert site.build_parameters() == {"location_id": "11688", "control_id": "2916276",
                                       "start": "2025-02-05T00:00:00Z", "end": "2025-02-07T00:00:00Z"}


@pytest.mark.parametrize("payload", INJECTION_PAYLOADS)
@pytest.mark.parametrize("plugin", ["file", "mysql", "adx", "sitesage", "memory"])
def test_values_never_enter_the_query_text(plugin: str, payload: str) -> None:
    s = PowerDataRetrieval(payload, payload, START, END, {"plugin": plugin})
    assert payload not in s.build_query()
    assert payload in dict(s.build_parameters()).values()  # type: ignore[arg-type]


def test_configured_names_and_identifier_check() -> None:
    custom = PowerSource(table="rtu", timestamp="ts", power="PowerKW")
    s = PowerDataRetrieval("1", "2", START, END, {"plugin": "file"}, source=custom)
    assert '"ts" >= $start' in s.build_query() and 'FROM "rtu"' in s.build_query()
    with pytest.raises(ValueError, match=r"hvac\.source\.table"):
        PowerSource(table='power"; DROP TABLE x; --')


def test_factory_errors_name_the_device() -> None:
    with pytest.raises(ValueError, match="device 'd1': no connection"):
        create_hvac_data_sources(DeviceUnit("d1", {"location_id": "1", "control_id": "2",
                                                   "start_date": "2025-01-01",
                                                   "end_date": "2025-01-02"}))
    with pytest.raises(ValueError, match=r"device 'd1': parameter 'location_id' is required"):
        create_hvac_data_sources(DeviceUnit("d1", {"connection": {"plugin": "memory"},
                                                   "start_date": "2025-01-01",
                                                   "end_date": "2025-01-02"}))
    with pytest.raises(ValueError, match="connector 'oracle' has no power query"):
        source("oracle")


def _device(fleet_devices: pd.DataFrame, i: int, connection: dict[str, object]) -> DeviceUnit:
    row = fleet_devices.iloc[i]
    return DeviceUnit(row.device_id, {**row.to_dict(), "connection": connection})


def test_memory_fetch_end_to_end(hvac_host: PluginHost) -> None:
    fleet = generate_fleet_frames(3, 2, seed=5)
    device = _device(fleet.devices, 1, {"plugin": "memory", "tables": {"power": fleet.power}})
    src = create_hvac_data_sources(device)["hvac_power"]
    frame = src.fetch()
    expected = fleet.power[fleet.power["control_id"] == device.parameters["control_id"]]
    assert len(frame) == len(expected) > 0
    assert set(frame["control_id"]) == {device.parameters["control_id"]}
    assert src.get_metadata()["location_id"] == device.parameters["location_id"]
    normalized = create_hvac_normalizers(device)["hvac_power"].normalize(frame)
    assert normalized["timestamp"].is_monotonic_increasing
    # the batch seam: one query for all three devices, split back per device
    sources = [create_hvac_data_sources(_device(fleet.devices, i, device.parameters["connection"]))
               ["hvac_power"] for i in range(3)]
    batch = PowerDataRetrieval.build_batch(sources)
    assert batch is not None
    query, params = batch
    combined = sources[0].plugin.execute_query(query, params)
    assert len(combined) == len(fleet.power)
    pd.testing.assert_frame_equal(sources[1].split_batch(combined), frame)


@pytest.mark.parametrize("plugin", ["file", "mysql", "adx"])
def test_a_batched_query_orders_rows_by_device(plugin: str) -> None:
    """So that each device's rows are one run of the batch: a slice, not a gather.

    Files are read in their own order (sorting would double DuckDB's work);
    the file connector test below checks that a fleet written by device
    comes back in runs."""
    other = PowerDataRetrieval("11688", "2916277", START, END, {"plugin": plugin})
    batch = PowerDataRetrieval.build_batch([source(plugin), other])
    assert batch is not None
    query = batch[0]
    if plugin == "adx":
        assert query.endswith(
            "| order by ['location_id'] asc, ['control_id'] asc, ['timestamp'] asc")
    elif plugin == "mysql":
        assert query.endswith("ORDER BY `location_id`, `control_id`, `timestamp`")
    else:
        assert "ORDER BY" not in query


def test_split_gives_the_same_rows_whatever_the_batch_order() -> None:
    """Rows ordered by device are split by slicing, any other order by position; same result."""
    fleet = generate_fleet_frames(4, 2, seed=7)
    connection = {"plugin": "memory", "tables": {"power": fleet.power}}
    sources = [create_hvac_data_sources(_device(fleet.devices, i, connection))["hvac_power"]
               for i in range(4)]
    by_device = fleet.power.sort_values(["location_id", "control_id", "timestamp"],
                                        ignore_index=True)
    by_time = fleet.power.sort_values(["timestamp", "control_id"], ignore_index=True)
    shuffled = fleet.power.sample(frac=1, random_state=3, ignore_index=True)
    split = [PowerDataRetrieval.split_batches(frame, sources)
             for frame in (by_device, by_time, shuffled)]
    for i, src in enumerate(sources):
        expected = src.fetch().sort_values("timestamp", ignore_index=True)
        assert len(expected) > 0
        for parts in split:
            got = parts[i].sort_values("timestamp", ignore_index=True)
            pd.testing.assert_frame_equal(got, expected)
    # ordered by device, each part is a view of the batch; otherwise a copy of its rows
    def shares(frame: pd.DataFrame, part: pd.DataFrame) -> bool:
        return bool(np.shares_memory(frame["power_w"].to_numpy(), part["power_w"].to_numpy()))

    assert all(shares(by_device, part) for part in split[0])
    assert not any(shares(shuffled, part) for part in split[2])


def test_file_connector_end_to_end(tmp_path: Path) -> None:
    import meshinsights_connector_file.plugin as file_plugin

    written = generate_fleet(3, 2, seed=5, out_dir=tmp_path / "fleet")
    devices = pd.read_csv(written["devices"], dtype=str)
    memory = generate_fleet_frames(3, 2, seed=5)
    connection = {"plugin": "file", "root": str(tmp_path / "fleet"),
                  "tables": {"power": "power/*.parquet"}}
    with isolated_host(hvac_plugin, file_plugin):
        device = _device(devices, 2, connection)
        frame = create_hvac_data_sources(device)["hvac_power"].fetch()
        expected = memory.power[memory.power["control_id"] == device.parameters["control_id"]]
        assert len(frame) == len(expected) > 0
        assert frame["timestamp"].is_monotonic_increasing
        normalized = create_hvac_normalizers(device)["hvac_power"].normalize(frame)
        assert len(normalized) == len(expected)
        # a payload as the control id selects nothing
        evil = DeviceUnit("evil", {**device.parameters, "control_id": "' OR 1=1 --"})
        assert len(create_hvac_data_sources(evil)["hvac_power"].fetch()) == 0
        # the batched query is unsorted, yet a fleet written by device comes back in runs
        sources = [create_hvac_data_sources(_device(devices, i, connection))["hvac_power"]
                   for i in range(3)]
        batch = PowerDataRetrieval.build_batch(sources)
        assert batch is not None
        combined = sources[0].plugin.execute_query(*batch)
        parts = PowerDataRetrieval.split_batches(combined, sources)
        for src, part in zip(sources, parts, strict=True):
            assert np.shares_memory(combined["power_w"].to_numpy(), part["power_w"].to_numpy())
            pd.testing.assert_frame_equal(part, src.fetch())
