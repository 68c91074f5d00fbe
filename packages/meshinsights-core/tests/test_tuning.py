"""The tuning report's advice follows from measured stage times."""

from __future__ import annotations

import os

from meshinsights import BatchResults, PipelineConfig, StageSpan, StageTiming
from meshinsights.tuning import tuning_advice


def _results(n: int, io_s: float, cpu_s: float, wall: float, waited: float, batches: int) -> BatchResults:
    ids = [f"d{i}" for i in range(n)]
    spans = [StageSpan(b, b * wall / batches, (b + 1) * wall / batches, n // batches) for b in range(batches)]
    return BatchResults(
        io_timing=StageTiming(dict.fromkeys(ids, io_s), spans),
        cpu_timing=StageTiming(dict.fromkeys(ids, cpu_s), spans),
        wall_time=wall, cpu_waited_for_io=waited,
    )


def test_io_bound_runs_get_more_io_workers() -> None:
    # 100 devices, 200 ms to fetch, 20 ms to process, 2 I/O workers: Stage 2 starves.
    advice = tuning_advice(_results(100, 0.2, 0.02, 10.0, 7.5, 20), PipelineConfig(io_max_workers=2))
    assert advice.bottleneck == "io"
    assert advice.io_max_workers == 10
    assert "waited 7.50 s for data" in advice.reasons[0]


def test_cpu_bound_thread_runs_are_told_to_use_processes() -> None:
    advice = tuning_advice(
        _results(100, 0.001, 0.1, 10.5, 0.0, 20), PipelineConfig(io_max_workers=4, cpu_max_workers=1)
    )
    assert advice.bottleneck == "cpu"
    assert advice.executor == "processes"
    assert advice.cpu_max_workers >= 1
    assert any("processes" in reason for reason in advice.reasons)


def test_too_few_batches_get_a_smaller_batch_size() -> None:
    advice = tuning_advice(_results(40, 0.01, 0.01, 1.0, 0.0, 2), PipelineConfig(batch_size=20))
    assert advice.batch_size == 40 // 12
    assert any("only 2 batches" in reason for reason in advice.reasons)


def test_workers_that_fetch_and_mostly_wait_get_more_workers_than_cores() -> None:
    # fetch_in_workers: 100 devices, 90 ms fetching (waiting) and 30 ms processing each, 2 workers.
    config = PipelineConfig(executor="processes", cpu_max_workers=2, fetch_in_workers=True)
    advice = tuning_advice(_results(100, 0.09, 0.03, 6.0, 0.0, 20), config)
    assert advice.bottleneck == "io"
    cores = os.cpu_count() or 1
    # (90 + 30) / 30 = 4 workers per core keep the cores busy while the others wait.
    assert advice.cpu_max_workers == 4 * cores
    assert "io_max_workers is not used" in advice.reasons[0]
    assert any("more workers than cores" in reason for reason in advice.reasons)


def test_workers_that_fetch_and_compute_keep_their_count_when_cpu_bound() -> None:
    config = PipelineConfig(executor="processes", cpu_max_workers=os.cpu_count() or 1,
                            fetch_in_workers=True)
    advice = tuning_advice(_results(100, 0.005, 0.05, 5.0, 0.0, 20), config)
    assert advice.bottleneck == "cpu"
    assert advice.cpu_max_workers == config.cpu_max_workers
    assert advice.io_waited_for_cpu_s == 0.0


def test_a_run_that_waits_for_its_results_to_be_written_names_the_output() -> None:
    # 100 devices, 10 s: the run waited 4 s for the ledger writer (busy 8 s beside it).
    results = _results(100, 0.02, 0.02, 10.0, 0.5, 20)
    advice = tuning_advice(results, PipelineConfig(), output_busy_s=8.0, output_waited_s=4.0)
    assert advice.bottleneck == "output"
    assert advice.reasons[0].startswith("the run waited 4.00 s for its results to be written (80 ms")
    assert "results written in 8.00 s beside the run, which waited 4.00 s" in advice.lines()[0]
    assert advice.to_dict()["output_waited_s"] == 4.0


def test_writing_hidden_behind_the_run_leaves_the_bottleneck_alone() -> None:
    results = _results(100, 0.2, 0.02, 10.0, 7.5, 20)
    hidden = tuning_advice(results, PipelineConfig(io_max_workers=2),
                           output_busy_s=3.0, output_waited_s=0.1)
    assert hidden.bottleneck == "io"
    assert hidden.reasons == tuning_advice(results, PipelineConfig(io_max_workers=2)).reasons


def test_large_data_sent_to_worker_processes_gets_fetch_in_workers() -> None:
    # 100 devices whose normalized data, 1.2 MB each, went to the workers and back.
    results = _results(100, 0.01, 0.02, 2.0, 0.0, 20)
    results.data_sent_bytes = 100 * 1_200_000
    advice = tuning_advice(results, PipelineConfig(executor="processes", cpu_max_workers=2))
    assert advice.fetch_in_workers
    assert any("1.20 MB on average" in r and "fetch_in_workers = true" in r for r in advice.reasons)
    assert advice.lines()[1].endswith("fetch_in_workers = true")
    assert advice.to_dict()["fetch_in_workers"] is True
    on_dask = tuning_advice(results, PipelineConfig(executor="dask", cpu_max_workers=2))
    assert on_dask.fetch_in_workers and any("credentials" in r for r in on_dask.reasons)
    # Small frames cost less to send than to fetch again: no suggestion.
    results.data_sent_bytes = 100 * 20_000
    small = tuning_advice(results, PipelineConfig(executor="processes", cpu_max_workers=2))
    assert not small.fetch_in_workers
    assert not any("fetch_in_workers" in r for r in small.reasons)
    assert not small.lines()[1].endswith("fetch_in_workers = true")
