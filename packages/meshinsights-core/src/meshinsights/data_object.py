"""PipelineDataObject: the state of one device as it flows through the pipeline."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

import pandas as pd

from meshinsights.errors import FrozenDatasetError
from meshinsights.messages import Message
from meshinsights.validation import validate_frame

_Self = TypeVar("_Self", bound="PipelineDataObject")


class ReadOnlyDatasets(Mapping[str, pd.DataFrame]):
    """A read-only view of normalized datasets.

    With ``freeze`` each lookup hands out a shallow copy: under pandas'
    copy-on-write a processor that writes to it changes its own copy, never the
    stored frame, so the next processor sees the data as normalized.
    """

    __slots__ = ("_frames", "_freeze")

    def __init__(self, frames: Mapping[str, pd.DataFrame], freeze: bool) -> None:
        self._frames = dict(frames)
        self._freeze = freeze

    def __getitem__(self, key: str) -> pd.DataFrame:
        frame = self._frames[key]
        return frame.copy(deep=False) if self._freeze else frame

    def __iter__(self) -> Iterator[str]:
        return iter(self._frames)

    def __len__(self) -> int:
        return len(self._frames)

    def __setitem__(self, key: str, value: object) -> None:
        raise FrozenDatasetError(
            f"normalized dataset {key!r} is read-only: processors write their outputs "
            "with data_object.set_artifact(key, value)"
        )

    def __delitem__(self, key: str) -> None:
        self.__setitem__(key, None)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k!r}: {v.shape[0]}x{v.shape[1]}" for k, v in self._frames.items())
        return f"ReadOnlyDatasets({{{shapes}}}, freeze={self._freeze})"


class PipelineDataObject:
    """Per-device container of datasets, artifacts, errors and warnings.

    Normalized datasets are read-only; processors put everything they produce
    into ``artifacts`` under namespaced keys (``"cycles/summary"``). A DataFrame
    artifact whose key has a registered pandera schema is validated when set: a
    failure becomes a warning naming the key and every failing check, so a
    processor's output shape problems are visible without stopping the run.
    """

    def __init__(
        self,
        pipeline_name: str,
        config: Mapping[str, Any] | None = None,
        normalized_data: Mapping[str, pd.DataFrame] | None = None,
        *,
        freeze: bool = True,
    ) -> None:
        self.pipeline_name = pipeline_name
        self.config: dict[str, Any] = dict(config or {})
        self.data_sources: dict[str, dict[str, Any]] = {}
        self.normalization_metadata: dict[str, dict[str, Any]] = {}
        self.artifacts: dict[str, Any] = {}
        self.artifact_schemas: dict[str, Any] = {}
        self.errors: list[Message] = []
        self.warnings: list[Message] = []
        self.timings: dict[str, float] = {}
        self.normalized_data: ReadOnlyDatasets = ReadOnlyDatasets(normalized_data or {}, freeze)

    # -- identity -------------------------------------------------------------
    @property
    def device_id(self) -> str | None:
        """The device this object belongs to (``config["device_id"]``)."""
        value = self.config.get("device_id")
        return None if value is None else str(value)

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    @property
    def status(self) -> str:
        """``"failed"`` when any error was recorded, else ``"ok"``."""
        return "failed" if self.errors else "ok"

    # -- datasets -------------------------------------------------------------
    def load_normalized_data(self, datasets: Mapping[str, pd.DataFrame], *, freeze: bool) -> None:
        """Attach Stage 1's datasets; called by the pipeline before processors run."""
        self.normalized_data = ReadOnlyDatasets(datasets, freeze)

    def release_normalized_data(self) -> None:
        """Drop the datasets once processing is over, keeping artifacts (bounds memory)."""
        self.normalized_data = ReadOnlyDatasets({}, self.normalized_data._freeze)

    def get_dataset(self, key: str) -> pd.DataFrame:
        """The normalized dataset ``key``; a KeyError lists the datasets there are."""
        try:
            return self.normalized_data[key]
        except KeyError:
            available = ", ".join(sorted(self.normalized_data)) or "none"
            raise KeyError(f"no normalized dataset {key!r} (available: {available})") from None

    # -- artifacts ------------------------------------------------------------
    def register_artifact_schema(self: _Self, key: str, schema: Any) -> _Self:
        """Validate DataFrames later stored under ``key`` with a pandera schema."""
        self.artifact_schemas[key] = schema
        return self

    def set_artifact(self: _Self, key: str, value: Any) -> _Self:
        """Store ``value`` under ``key``, validating DataFrames that have a schema."""
        schema = self.artifact_schemas.get(key)
        if schema is not None and isinstance(value, pd.DataFrame):
            value, problems = validate_frame(schema, value)
            if problems:
                self.add_warning(
                    f"artifact {key!r} does not match its schema: " + "; ".join(problems),
                    component="schema",
                )
        self.artifacts[key] = value
        return self

    def get_artifact(self, key: str, default: Any = None) -> Any:
        return self.artifacts.get(key, default)

    def list_artifacts(self, prefix: str | None = None) -> list[str]:
        keys = self.artifacts.keys()
        return sorted(k for k in keys if prefix is None or k.startswith(prefix))

    # -- telemetry ------------------------------------------------------------
    def add_error(
        self: _Self, message: str, *, stage: str | None = None, component: str | None = None
    ) -> _Self:
        self.errors.append(Message(message=message, stage=stage, component=component))
        return self

    def add_warning(
        self: _Self, message: str, *, stage: str | None = None, component: str | None = None
    ) -> _Self:
        self.warnings.append(Message(message=message, stage=stage, component=component))
        return self

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(pipeline_name={self.pipeline_name!r}, "
            f"device_id={self.device_id!r}, status={self.status!r}, "
            f"datasets={sorted(self.normalized_data)}, artifacts={len(self.artifacts)}, "
            f"errors={len(self.errors)}, warnings={len(self.warnings)})"
        )

