"""Every log record made during a device's work carries ``record.device_id``.

That holds for MeshInsights' own records and for records of user code that
logs through its own loggers, in the I/O threads and in Stage 2 alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from meshinsights import DeviceUnit, Pipeline, PipelineDataObject, Processor
from meshinsights.logs import configure_logging

Factory = Callable[..., Any]
source_log = logging.getLogger("user.source")
normalizer_log = logging.getLogger("user.normalizer")
processor_log = logging.getLogger("user.processor")


class Chatty(Processor):
    def process(self, data_object: PipelineDataObject) -> PipelineDataObject:
        processor_log.info("processing %s", data_object.device_id)
        processor_log.warning("odd cycles on %s", data_object.device_id)
        return data_object


def test_every_record_of_device_work_names_its_device(
    fleet_factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = fleet_factory(6, fail_processor=["dev-002"], fail_source=["dev-004"])

    def sources(device: DeviceUnit) -> Any:
        source_log.info("fetching %s", device.device_id)
        return fleet.sources(device)

    def normalizers(device: DeviceUnit) -> Any:
        normalizer_log.debug("normalizer for %s", device.device_id)
        return fleet.normalizers(device)

    def processors(device: DeviceUnit) -> Any:
        return [Chatty(), *fleet.processors(device)]

    config = fleet.pipeline(batch_size=2, io_max_workers=3, cpu_max_workers=2, log_level="DEBUG")
    pipeline = Pipeline(sources, normalizers, processors, config=config.config)
    caplog.set_level(logging.DEBUG)
    pipeline.run_producer_consumer(fleet.devices)

    user = [r for r in caplog.records if r.name.startswith("user.")]
    assert len(user) == 6 + 6 + 5 * 2  # source + normalizer factories per device, chain if fetched
    for record in user:
        assert record.device_id == record.args[0]  # type: ignore[attr-defined,index]
    # The runner's and the processors' own records: errors and per-processor timing.
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert sorted(r.device_id for r in errors) == ["dev-002", "dev-004"]  # type: ignore[attr-defined]
    for record in errors:
        assert record.getMessage().startswith(f"device {record.device_id!r}: ")  # type: ignore[attr-defined]
    timing = [r for r in caplog.records if r.getMessage().endswith(" s") and "finished" in r.getMessage()]
    assert {r.device_id for r in timing} == set(fleet.device_ids) - {"dev-004"}  # type: ignore[attr-defined]
    # Run-level records belong to no device.
    run_level = [r for r in caplog.records if r.getMessage().startswith("run ")]
    # (A console handler installed earlier in the process stamps "-" on them.)
    assert run_level and all(getattr(r, "device_id", "-") == "-" for r in run_level)


def test_a_processor_called_directly_logs_with_its_device(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    dobj = PipelineDataObject("adhoc", {"device_id": "dev-9"}, {"telemetry": pd.DataFrame()})
    Chatty()(dobj)
    assert [r.device_id for r in caplog.records] == ["dev-9", "dev-9"]  # type: ignore[attr-defined]
    logging.getLogger("user.other").warning("after the device")
    assert not hasattr(caplog.records[-1], "device_id")


@pytest.fixture
def handler() -> Iterator[list[logging.Handler]]:
    installed: list[logging.Handler] = []
    yield installed
    for h in installed:
        logging.getLogger("meshinsights").removeHandler(h)


def test_configure_logging_formats_device_ids(
    fleet_factory: Factory, handler: list[logging.Handler], capsys: pytest.CaptureFixture[str]
) -> None:
    handler.append(configure_logging("INFO"))
    fleet = fleet_factory(2, fail_processor=["dev-001"])
    fleet.pipeline(log_level="INFO").run_batch(fleet.devices)
    lines = capsys.readouterr().err.splitlines()
    assert any(" [-] meshinsights.pipeline: run " in line for line in lines)
    assert any(
        "ERROR   [dev-001] meshinsights.processor: device 'dev-001': cpu stage, processor Explode"
        in line for line in lines
    )


def test_configure_logging_twice_keeps_one_console_handler(handler: list[logging.Handler]) -> None:
    first = configure_logging("INFO")
    second = configure_logging("DEBUG")
    handler.extend([first, second])
    root = logging.getLogger("meshinsights")
    assert second in root.handlers
    assert first not in root.handlers
    assert root.level == logging.DEBUG
