"""Pandera validation that reports every failing check instead of raising.

pandera is imported on first use: discovering plugins or printing ``--help``
must not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

_MAX_EXAMPLES = 3


def validate_frame(schema: Any, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Validate ``frame`` lazily against a pandera schema or DataFrameModel.

    Returns the validated frame (coerced where the schema says so) and no
    problems, or the original frame and one line per failing check.
    """
    try:
        return schema.validate(frame, lazy=True), []
    except Exception as exc:
        from pandera.errors import SchemaError, SchemaErrors

        if isinstance(exc, SchemaErrors):
            return frame, describe_failures(exc.failure_cases)
        if isinstance(exc, SchemaError):  # raised by some schema-level checks even when lazy
            return frame, [str(exc).splitlines()[0]]
        raise


def describe_failures(failure_cases: pd.DataFrame) -> list[str]:
    """One readable line per (column, check), with a count and a few examples."""
    problems: list[str] = []
    cases = failure_cases.astype({"column": "object", "check": "object"})
    cases["column"] = cases["column"].where(cases["column"].notna(), "<frame>")
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        examples = ", ".join(repr(v) for v in group["failure_case"].head(_MAX_EXAMPLES).tolist())
        problems.append(
            f"column {column!r} failed {check!s} ({len(group)} case(s), e.g. {examples})"
        )
    return problems
