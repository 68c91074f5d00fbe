"""Turn DuckDB's errors into messages that name the file and the cause."""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from meshinsights.errors import ConnectorError

# Where DuckDB names the file in its messages (2.x wording).
_FILE_PATTERNS = (
    re.compile(r'Cannot access (?:file|directory) "([^"]+)"'),
    re.compile(r'No files found that match the pattern "([^"]+)"'),
    re.compile(r"^\s*file = (.+)$", re.MULTILINE),
    re.compile(r"(?:in|of) file '([^']+)'"),
    re.compile(r'file "([^"]+)"'),
    re.compile(r"'([^']+\.(?:parquet|parq|pq|csv|tsv|txt|gz|zst))'"),
)


def file_named_in(message: str) -> str | None:
    for pattern in _FILE_PATTERNS:
        match = pattern.search(message)
        if match:
            return match.group(1).strip()
    return None


def shown_path(path: str, root: Path) -> str:
    """A path as the user wrote it: relative to the root when it is inside."""
    absolute = os.path.normpath(path) if os.path.isabs(path) else None
    if absolute is not None and (Path(absolute) == root or root in Path(absolute).parents):
        return os.path.relpath(absolute, root)
    return path


def _cause(exc: duckdb.Error) -> str:
    """The first paragraph of DuckDB's message (its long hints follow a blank line)."""
    text = str(exc).strip()
    head = text.split("\n\n", 1)[0]
    return " ".join(line.strip() for line in head.splitlines() if line.strip())


def translate(exc: duckdb.Error, root: Path, what: str) -> ConnectorError:
    """A ConnectorError naming the file (relative to the root) and what went wrong."""
    message = str(exc)
    cause = _cause(exc)
    file = file_named_in(message)
    where = f"file {shown_path(file, root)!r}: " if file else ""
    if isinstance(exc, duckdb.PermissionException):
        return ConnectorError(
            f"file connector: {what} refused: {where}only files under the root "
            f"{str(root)!r} may be read; name them through `tables` or with an absolute path "
            "inside the root (relative paths in SQL would resolve against the working "
            "directory, so DuckDB refuses them)"
        )
    if isinstance(exc, duckdb.IOException) and "No files found" in message:
        return ConnectorError(f"file connector: {what} failed: {where}no such file ({cause})")
    if isinstance(exc, duckdb.ConversionException) and "CSV Error" in message:
        return ConnectorError(
            f"file connector: {what} failed: {where}CSV with mixed types in a column: {cause} "
            "(give the column's type, e.g. read_csv(..., types = {'col': 'VARCHAR'}))"
        )
    lowered = message.lower()
    if file and ("magic bytes" in lowered or "footer" in lowered or "parquet" in lowered):
        return ConnectorError(
            f"file connector: {what} failed: {where}unreadable or corrupt Parquet: {cause}"
        )
    return ConnectorError(f"file connector: {what} failed: {where}{type(exc).__name__}: {cause}")
