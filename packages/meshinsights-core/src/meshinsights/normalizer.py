"""DataNormalizer: turns a source's raw frame into the schema processors expect."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import pandas as pd

from meshinsights.errors import NormalizationError
from meshinsights.validation import validate_frame


class DataNormalizer(ABC):
    """Template method: check the input, :meth:`transform`, validate the output.

    ``transform`` is pure and deterministic (no I/O). Missing
    ``required_columns`` or a non-DataFrame input fail the device with an error
    naming the column; a schema mismatch of the output is recorded as warnings
    in ``metadata["warnings"]`` and the device goes on.
    """

    #: Columns the raw input must have; checked before ``transform``.
    required_columns: ClassVar[tuple[str, ...]] = ()

    @property
    def name(self) -> str:
        return type(self).__name__

    def get_schema(self) -> Any | None:
        """An optional pandera schema of the normalized output."""
        return None

    @abstractmethod
    def transform(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
        """Pure transformation of raw data to normalized data."""

    def normalize(self, data: pd.DataFrame, metadata: dict[str, Any] | None = None) -> pd.DataFrame:
        if metadata is None:
            metadata = {}
        if not isinstance(data, pd.DataFrame):
            raise NormalizationError(
                f"{self.name}: expected a pandas DataFrame, got {type(data).__name__}"
            )
        missing = [c for c in self.required_columns if c not in data.columns]
        if missing:
            raise NormalizationError(
                f"{self.name}: missing column(s) {', '.join(map(repr, missing))} "
                f"(columns present: {', '.join(map(str, data.columns)) or 'none'})"
            )
        metadata.setdefault("normalizer", self.name)
        metadata.setdefault("rows_in", len(data))
        out = self.transform(data, metadata)
        if not isinstance(out, pd.DataFrame):
            raise NormalizationError(
                f"{self.name}.transform returned {type(out).__name__}, not a DataFrame"
            )
        schema = self.get_schema()
        if schema is not None:
            out, problems = validate_frame(schema, out)
            if problems:
                metadata.setdefault("warnings", []).extend(
                    f"{self.name}: normalized data does not match its schema: {p}" for p in problems
                )
        metadata["rows_out"] = len(out)
        return out
