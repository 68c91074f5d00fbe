"""Stage overlap measured from the recorded batch spans of a run."""

from __future__ import annotations

from collections.abc import Iterable

from meshinsights.results import BatchResults, StageSpan


def union_seconds(spans: Iterable[tuple[float, float]]) -> float:
    """Total length of the union of [start, end] intervals."""
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(spans):
        if current_end is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return total


def _pairs(spans: Iterable[StageSpan]) -> list[tuple[float, float]]:
    return [(s.start, s.end) for s in spans]


def stage_report(results: BatchResults) -> dict[str, float]:
    """Busy and span seconds per stage, and how much of them ran at the same time.

    ``overlap_fraction`` is the overlapped time over the shorter stage's span:
    1.0 means the shorter stage was entirely hidden behind the longer one.
    """
    io = _pairs(results.io_timing.per_batch)
    cpu = _pairs(results.cpu_timing.per_batch)
    io_span, cpu_span = union_seconds(io), union_seconds(cpu)
    overlap = max(0.0, io_span + cpu_span - union_seconds(io + cpu))
    shorter = min(io_span, cpu_span)
    return {
        "wall_time_s": round(results.wall_time, 6),
        "io_busy_s": round(results.io_timing.total, 6),
        "cpu_busy_s": round(results.cpu_timing.total, 6),
        "io_span_s": round(io_span, 6),
        "cpu_span_s": round(cpu_span, 6),
        "overlap_s": round(overlap, 6),
        "overlap_fraction": round(overlap / shorter, 4) if shorter > 0 else 0.0,
    }
