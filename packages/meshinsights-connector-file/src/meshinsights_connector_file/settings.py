"""The ``file`` connector's config: the root directory and the named views over it.

Checked before DuckDB is touched, so a typo in a run config is reported with
the key and the value at fault instead of as a SQL error later.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from meshinsights.errors import ConfigError

_VIEW_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_GLOB_CHARS = re.compile(r"[*?\[{]")
_PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".csv.zst")
FORMATS = ("parquet", "csv")
KNOWN_KEYS = frozenset({"root", "tables"})


@attrs.frozen
class ViewSpec:
    """One entry of ``tables``: a view name over files matched under the root."""

    name: str
    pattern: str  # as written in the config, relative to the root
    path: str  # absolute, normalized, inside the root (may hold glob characters)
    format: str  # "parquet" | "csv"

    def create_sql(self) -> str:
        """``CREATE VIEW`` text: the path is config (not query data), quoted as a literal."""
        literal = "'" + self.path.replace("'", "''") + "'"
        reader = "read_parquet" if self.format == "parquet" else "read_csv"
        return f'CREATE OR REPLACE VIEW "{self.name}" AS SELECT * FROM {reader}({literal})'


@attrs.frozen
class FileSettings:
    root: Path
    views: tuple[ViewSpec, ...]

    @property
    def allowed_directory(self) -> str:
        """The root with a trailing separator, so ``/data/root2`` is not inside ``/data/root``."""
        return str(self.root).rstrip(os.sep) + os.sep


def parse_settings(config: Mapping[str, Any]) -> FileSettings:
    unknown = sorted(set(config) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"file connector: unknown config key(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(KNOWN_KEYS))})"
        )
    raw_root = config.get("root")
    if not isinstance(raw_root, (str, os.PathLike)) or not str(raw_root):
        raise ConfigError("file connector: `root` (the directory queries may read) is required")
    root = Path(os.path.realpath(os.path.expanduser(os.fspath(raw_root))))
    tables = config.get("tables") or {}
    if not isinstance(tables, Mapping):
        raise ConfigError(
            "file connector: `tables` must be a table of view names to paths, "
            'e.g. tables = {power = "power/*.parquet"}'
        )
    views = tuple(_view(root, str(name), spec) for name, spec in tables.items())
    return FileSettings(root=root, views=views)


def _view(root: Path, name: str, spec: Any) -> ViewSpec:
    if not _VIEW_NAME.match(name):
        raise ConfigError(
            f"file connector: table name {name!r} is not a plain SQL identifier "
            "(letters, digits and _)"
        )
    fmt: str | None = None
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"path", "format"})
        if unknown:
            raise ConfigError(
                f"file connector: table {name!r}: unknown key(s) {', '.join(unknown)} "
                "(known: path, format)"
            )
        fmt, spec = spec.get("format"), spec.get("path")
    if not isinstance(spec, str) or not spec:
        raise ConfigError(
            f"file connector: table {name!r} needs a path or glob relative to the root, "
            'e.g. "power/*.parquet"'
        )
    path = resolve_inside(root, spec, what=f"table {name!r}")
    if fmt is None:
        path, fmt = _with_format(path, name, spec)
    elif fmt not in FORMATS:
        raise ConfigError(
            f"file connector: table {name!r}: format {fmt!r} is not one of {', '.join(FORMATS)}"
        )
    return ViewSpec(name=name, pattern=spec, path=path, format=fmt)


def resolve_inside(root: Path, pattern: str, *, what: str) -> str:
    """``root/pattern`` normalized; a clear error when it leaves the root."""
    joined = os.path.normpath(os.path.join(root, os.path.expanduser(pattern)))
    static = Path(_static_prefix(joined))
    real_static = Path(os.path.realpath(static))
    if not (real_static == root or root in real_static.parents):
        raise ConfigError(
            f"file connector: {what}: path {pattern!r} is outside the root {str(root)!r} "
            "(paths are relative to the root and may not leave it)"
        )
    return joined


def _static_prefix(path: str) -> str:
    """The part of a glob before its first wildcard (the directory it starts from)."""
    match = _GLOB_CHARS.search(path)
    if match is None:
        return path
    return os.path.dirname(path[: match.start()]) or os.sep


def _with_format(path: str, name: str, pattern: str) -> tuple[str, str]:
    lower = path.lower()
    if lower.endswith(_PARQUET_SUFFIXES):
        return path, "parquet"
    if lower.endswith(_CSV_SUFFIXES):
        return path, "csv"
    if not _GLOB_CHARS.search(path) and os.path.isdir(path):
        found = {p.suffix.lower() for p in Path(path).rglob("*") if p.is_file()}
        if found & set(_PARQUET_SUFFIXES):
            return os.path.join(path, "**", "*.parquet"), "parquet"
        if found & {".csv"}:
            return os.path.join(path, "**", "*.csv"), "csv"
    raise ConfigError(
        f"file connector: table {name!r}: cannot tell the format of {pattern!r} "
        "(name .parquet or .csv files, a directory holding them, "
        'or give it: {path = "...", format = "csv"})'
    )
