"""Run config: a TOML file structured into attrs classes by a private cattrs converter.

``${ENV_VAR}`` anywhere in a string value is replaced from the environment
(secrets never live in the file). Unknown keys and bad values are
:class:`ConfigError` naming the key and, where it can be found, the line.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs
from attrs import validators as v

from meshinsights.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

EXECUTORS = ("threads", "processes", "dask")
OUTPUT_FORMATS = ("csv", "parquet", "html", "jsonl")
_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@attrs.frozen(kw_only=True)
class PipelineSection:
    """``[pipeline]``: what to run and how to parallelize it."""

    solution: str
    name: str | None = None
    batch_size: int = attrs.field(default=10, validator=v.ge(1))
    io_max_workers: int = attrs.field(default=4, validator=v.ge(1))
    cpu_max_workers: int = attrs.field(default=1, validator=v.ge(1))
    queue_size: int = attrs.field(default=2, validator=v.ge(1))
    executor: str = attrs.field(default="threads", validator=v.in_(EXECUTORS))
    dask_scheduler: str | None = None
    fetch_in_workers: bool = attrs.field(default=False)
    batch_fetch: bool = True
    cpu_time_limit: float | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    io_timeout: float | None = attrs.field(default=None, validator=v.optional(v.gt(0)))
    stop_on_error: bool = False
    freeze_normalized_data: bool = True
    log_level: str = attrs.field(
        default="INFO", validator=v.in_(("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG"))
    )
    extra_processors: tuple[str, ...] = ()

    @fetch_in_workers.validator
    def _check_fetch_in_workers(self, _: attrs.Attribute[bool], value: bool) -> None:
        if value and self.executor == "threads":
            raise ValueError('fetch_in_workers needs executor = "processes" or "dask"')


@attrs.frozen(kw_only=True)
class DevicesSection:
    """``[devices]``: a CSV file (relative to the config file) and/or inline tables."""

    csv: str | None = None
    inline: tuple[dict[str, Any], ...] = ()


@attrs.frozen(kw_only=True)
class OutputSection:
    """``[output]``: where results go (relative to the config file) and in which formats."""

    dir: str = "results"
    formats: tuple[str, ...] = attrs.field(
        default=("csv", "parquet", "html"), validator=v.deep_iterable(v.in_(OUTPUT_FORMATS))
    )
    #: DataFrame artifacts written as Parquet per device: all (unset), only these keys, or none
    #: (``[]``). Large fleets rarely need every intermediate table, and writing them can
    #: cost more than computing them.
    artifacts: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class RunConfig:
    """A whole run config, with the path it was read from."""

    pipeline: PipelineSection
    connection: dict[str, Any] = attrs.field(factory=dict)
    devices: DevicesSection = attrs.field(factory=DevicesSection)
    output: OutputSection = attrs.field(factory=OutputSection)
    #: The solution's own table (``[hvac]`` for ``hvac-power``), keyed by its name.
    parameters: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    path: Path | None = None

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def resolve(self, relative: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    @property
    def connection_plugin(self) -> str | None:
        plugin = self.connection.get("plugin")
        return str(plugin) if plugin is not None else None

    @property
    def connector_config(self) -> dict[str, Any]:
        return {k: val for k, val in self.connection.items() if k != "plugin"}


_converter = cattrs.Converter(forbid_extra_keys=True)


def _strict_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(f"expected true or false, got {value!r}")


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(f"expected an integer, got {value!r}")


def _strict_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, got {value!r}")


def _strict_strings(value: Any, _: type) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(_strict_str(item, str) for item in value)
    raise TypeError(f"expected a list of strings, got {value!r}")


_converter.register_structure_hook_func(lambda cls: cls == tuple[str, ...], _strict_strings)
_converter.register_structure_hook(bool, _strict_bool)
_converter.register_structure_hook(int, _strict_int)
_converter.register_structure_hook(str, _strict_str)


class MissingEnvironmentVariable(ConfigError):
    """``${NAME}`` in the config names a variable that is not set."""

    def __init__(self, key: str, name: str) -> None:
        self.key = key
        self.name = name
        super().__init__(f"{key}: environment variable {name} is not set")


def interpolate_env(value: Any, environ: Mapping[str, str], key: str = "") -> Any:
    """Replace ``${VAR}`` in every string of a TOML value; a missing variable is an error."""
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in environ:
                raise MissingEnvironmentVariable(key, name)
            return environ[name]

        return _ENV_PATTERN.sub(substitute, value)
    if isinstance(value, dict):
        return {
            k: interpolate_env(item, environ, f"{key}.{k}" if key else k) for k, item in value.items()
        }
    if isinstance(value, list):
        return [interpolate_env(item, environ, key) for item in value]
    return value


def find_line(text: str, dotted_key: str) -> int | None:
    """Best-effort line number of ``table.key`` in a TOML text (for error messages)."""
    parts = [p for p in dotted_key.split(".") if p and not p.startswith("[")]
    if not parts:
        return None
    *tables, key = parts
    wanted_table = ".".join(tables)
    current = ""
    header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = match.group(1).strip()
            if current == dotted_key:
                return number
            continue
        if current == wanted_table and assignment.match(line):
            return number
    return None


def _where(text: str, path: str, key: str) -> str:
    line = find_line(text, key)
    return f"{path}, line {line}" if line else path


def _format_exception(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, (ValueError, TypeError)) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]  # attrs validators and our strict hooks say what is wrong
    return cattrs.v.format_exception(exc, type_)


def _cattrs_messages(exc: Exception) -> list[tuple[str, str]]:
    """(dotted key, message) pairs out of a cattrs structuring error."""
    out: list[tuple[str, str]] = []
    for text in cattrs.transform_error(exc, format_exception=_format_exception):
        message, _, where = text.rpartition(" @ ")
        key = where.removeprefix("$").lstrip(".")
        extra = re.match(r"extra fields found \((.+)\)", message)
        if extra:
            for name in extra.group(1).split(", "):
                out.append((f"{key}.{name}".strip("."), f"unknown key {name!r}"))
        else:
            attribute = re.match(r"'(\w+)' must", message)
            if attribute:
                key = f"{key}.{attribute.group(1)}".strip(".")
            out.append((key, message))
    return out


def parse_run_config(
    text: str,
    *,
    path: Path | None = None,
    parameters_keys: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunConfig:
    """Parse and check a run config's text.

    ``parameters_keys`` maps solution names to the table name they read
    (``{"hvac-power": "hvac"}``); that one extra top-level table is allowed.
    """
    shown = str(path) if path is not None else "<run config>"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown}: not valid TOML: {exc}") from None
    try:
        raw = interpolate_env(raw, os.environ if environ is None else environ)
    except MissingEnvironmentVariable as exc:
        raise ConfigError(
            f"{_where(text, shown, exc.key)}: {exc.key}: environment variable {exc.name} is not set"
        ) from None

    pipeline = raw.get("pipeline")
    if not isinstance(pipeline, dict) or "solution" not in pipeline:
        raise ConfigError(f"{shown}: [pipeline] table with a `solution` key is required")
    solution = pipeline["solution"]
    if parameters_keys is not None and solution not in parameters_keys:
        installed = ", ".join(sorted(parameters_keys)) or "none"
        raise ConfigError(
            f"{_where(text, shown, 'pipeline.solution')}: pipeline.solution: no solution named "
            f"{solution!r} is installed (installed: {installed})"
        )
    parameters_key = (parameters_keys or {}).get(solution) if isinstance(solution, str) else None
    known = {"pipeline", "connection", "devices", "output"}
    parameters: dict[str, dict[str, Any]] = {}
    if parameters_key and parameters_key in raw:
        table = raw.pop(parameters_key)
        if not isinstance(table, dict):
            raise ConfigError(f"{_where(text, shown, parameters_key)}: [{parameters_key}] must be a table")
        parameters[parameters_key] = table
    unknown = sorted(set(raw) - known)
    if unknown:
        hint = f" ({solution!r} reads [{parameters_key}])" if parameters_key else ""
        raise ConfigError(
            "; ".join(f"{_where(text, shown, k)}: unknown table or key {k!r}" for k in unknown) + hint
        )
    connection = raw.get("connection", {})
    if not isinstance(connection, dict):
        raise ConfigError(f"{_where(text, shown, 'connection')}: [connection] must be a table")
    try:
        config = _converter.structure(
            {**raw, "parameters": parameters, "connection": connection}, RunConfig
        )
    except Exception as exc:  # noqa: BLE001 - cattrs raises exception groups
        problems = _cattrs_messages(exc) if isinstance(exc, (cattrs.BaseValidationError,)) else [
            ("", str(exc))
        ]
        raise ConfigError(
            "; ".join(f"{_where(text, shown, key)}: {key or 'config'}: {msg}" for key, msg in problems)
        ) from None
    _require_devices(config, shown)
    return attrs.evolve(config, path=path)


def _require_devices(config: RunConfig, shown: str) -> None:
    if config.devices.csv is None and not config.devices.inline:
        raise ConfigError(f"{shown}: [devices] needs `csv = \"devices.csv\"` or inline devices")


def load_run_config(
    path: str | Path,
    *,
    parameters_keys: Mapping[str, str | None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> RunConfig:
    """Read and parse a run config file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read run config {file}: {exc.strerror or exc}") from None
    return parse_run_config(text, path=file, parameters_keys=parameters_keys, environ=environ)
