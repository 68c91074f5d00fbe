"""A source that never answers is cut off by io_timeout; the run and the process go on."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from meshinsights import DeviceUnit, Pipeline, PipelineConfig
from meshinsights.io_pool import DaemonThreadPool
from meshinsights.testing import isolated_host
from meshinsights.testing.faults import SummarizeValues, no_normalizers, synthetic_sources


class Hanging:
    """Wraps the synthetic sources; device "stuck" blocks until released (or 30 s)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def __call__(self, device: DeviceUnit):
        sources = synthetic_sources(device)
        if device.device_id.startswith("stuck"):
            source = sources["values"]
            original = source.fetch

            def fetch():
                self.release.wait(30)
                return original()

            source.fetch = fetch  # type: ignore[method-assign]
        return sources


def test_a_hanging_fetch_fails_only_its_device() -> None:
    devices = [DeviceUnit(f"d{i}") for i in range(3)] + [DeviceUnit("stuck-1")] + [
        DeviceUnit(f"e{i}") for i in range(4)
    ]
    hanging = Hanging()
    pipeline = Pipeline(
        hanging, no_normalizers, lambda d: [SummarizeValues()],  # type: ignore[arg-type]
        config=PipelineConfig(batch_size=3, io_max_workers=1, io_timeout=0.5, batch_fetch=False),
    )
    started = time.perf_counter()
    with isolated_host():
        results = pipeline.run_producer_consumer(devices)
    assert time.perf_counter() - started < 10
    assert results.failed_devices == ["stuck-1"]
    error = results.device_results["stuck-1"].errors[0].message
    assert error == "device 'stuck-1': io stage, io_timeout: no answer within 0.5 s; the fetch was abandoned"
    assert len(results.successful_devices) == 7
    hanging.release.set()  # let the abandoned thread finish, so no test sees it
    deadline = time.monotonic() + 10
    while any(t.name.startswith("meshinsights-io") for t in threading.enumerate()):
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_the_program_exits_despite_an_abandoned_thread() -> None:
    code = textwrap.dedent("""
        import time
        from meshinsights.io_pool import DaemonThreadPool
        pool = DaemonThreadPool(1, "meshinsights-io")
        pool.submit(time.sleep, 600)
        time.sleep(0.1)
        pool.replace_stuck_worker()
        print(pool.submit(sum, [1, 2]).result())
        pool.shutdown(wait=True)
    """)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "3"
    assert time.perf_counter() - started < 20


def test_pool_runs_work_and_cancels_queued_work_on_shutdown() -> None:
    pool = DaemonThreadPool(1, "meshinsights-io")
    blocker = pool.submit(time.sleep, 0.2)
    queued = pool.submit(sum, [1])
    pool.shutdown(wait=True, cancel_futures=True)
    assert blocker.done()
    assert queued.cancelled()
