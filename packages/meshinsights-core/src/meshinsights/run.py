"""What ``meshinsights run`` does: config -> devices -> pipeline -> outputs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from meshinsights.config import RunConfig, load_run_config
from meshinsights.connectors import PluginManager
from meshinsights.device import DeviceUnit
from meshinsights.device_list import load_devices
from meshinsights.errors import ConfigError, PluginError
from meshinsights.pipeline import Pipeline
from meshinsights.pipeline_config import PipelineConfig
from meshinsights.plugins import get_registry
from meshinsights.solution import Solution, find_processors, find_solution

logger = logging.getLogger(__name__)


@attrs.frozen
class PreparedRun:
    """Everything a run needs, checked before any device is touched."""

    config: RunConfig
    solution: Solution
    devices: list[DeviceUnit]
    pipeline: Pipeline


def solution_parameter_keys() -> dict[str, str | None]:
    """Which run-config table each installed solution reads (``{"hvac-power": "hvac"}``)."""
    return {name: reg.obj.parameters_key for name, reg in get_registry().solutions.items()
            if isinstance(reg.obj, Solution)}


def prepare_run(path: str | Path, *, log_level: str | None = None) -> PreparedRun:
    """Parse the config and resolve every plugin name it uses; runs nothing.

    ``log_level`` (the CLI's ``--log-level``) overrides the config's.
    """
    config = load_run_config(path, parameters_keys=solution_parameter_keys())
    section = config.pipeline
    solution = find_solution(section.solution)
    find_processors(section.extra_processors)
    plugin = config.connection_plugin
    if config.connection and plugin is None:
        raise ConfigError(f"{config.path}: [connection] needs a `plugin` key (the connector name)")
    if plugin is not None and plugin not in PluginManager.list_plugins():
        raise PluginError(
            f"{config.path}: [connection] plugin {plugin!r} is not installed "
            f"(installed connectors: {', '.join(PluginManager.list_plugins())})"
        )
    config = _resolve_connection_paths(config, plugin)
    _check_connector_config(config, plugin)
    devices = load_devices(config, solution)
    if solution.validate_parameters is not None:
        for device in devices:
            try:
                solution.validate_parameters(device.parameters.get(solution.parameters_key or "", {}))
            except Exception as exc:  # noqa: BLE001 - reported as a config error
                raise ConfigError(
                    f"device {device.device_id!r}: invalid {solution.parameters_key} parameters: {exc}"
                ) from None
    pipeline = Pipeline.from_solution(
        section.solution,
        PipelineConfig(
            pipeline_name=section.name or section.solution,
            stop_on_error=section.stop_on_error,
            log_level=log_level or section.log_level,
            batch_size=section.batch_size,
            freeze_normalized_data=section.freeze_normalized_data,
            io_max_workers=section.io_max_workers,
            cpu_max_workers=section.cpu_max_workers,
            queue_size=section.queue_size,
            executor=section.executor,
            dask_scheduler=section.dask_scheduler,
            fetch_in_workers=section.fetch_in_workers,
            batch_fetch=section.batch_fetch,
            cpu_time_limit=section.cpu_time_limit,
            io_timeout=section.io_timeout,
            retain_normalized_data=False,  # results stream to the ledger batch by batch
        ),
        extra_processors=section.extra_processors,
    )
    return PreparedRun(config=config, solution=solution, devices=devices, pipeline=pipeline)


def _resolve_connection_paths(config: RunConfig, plugin: str | None) -> RunConfig:
    """Relative paths in ``[connection]`` are relative to the config file's folder.

    They become absolute: with ``fetch_in_workers`` they are opened by worker
    processes whose working directory may be another one (a Dask worker's).
    """
    if plugin is None:
        return config
    keys = getattr(PluginManager.connector_class(plugin), "path_keys", ())
    connection = dict(config.connection)
    for key in keys:
        value = connection.get(key)
        if isinstance(value, str) and value:
            connection[key] = str(config.resolve(value).absolute())
    return attrs.evolve(config, connection=connection)


def _check_connector_config(config: RunConfig, plugin: str | None) -> None:
    """Let the connector parse ``[connection]`` now: a bad key is a config error, not N failed devices.

    Connectors read their settings in ``__init__`` and connect only on first use.
    """
    if plugin is None:
        return
    try:
        PluginManager.connector_class(plugin)(**config.connector_config)
    except Exception as exc:  # noqa: BLE001 - the connector says what is wrong
        raise ConfigError(f"{config.path}: [connection] ({plugin}): {exc}") from None


def check_connection(prepared: PreparedRun) -> str | None:
    """Probe the run's connector; None when reachable, else the reason."""
    plugin = prepared.config.connection_plugin
    if plugin is None:
        return None
    try:
        connector = PluginManager.get_plugin(plugin, **prepared.config.connector_config)
        return None if connector.validate_connection() else f"connector {plugin!r} is not reachable"
    except Exception as exc:  # noqa: BLE001 - reported to the user
        return f"connector {plugin!r}: {type(exc).__name__}: {exc}"
    finally:
        PluginManager.cleanup()


def execute(prepared: PreparedRun, *, resume: bool = False, rerun_failed: bool = False) -> RunOutcome:
    """Run the devices the ledger still needs, then rebuild every output file."""
    from meshinsights.ledger import Ledger
    from meshinsights.outputs import finalize_outputs, run_into_ledger

    output = prepared.config.output
    ledger = Ledger(prepared.config.resolve(output.dir), artifacts=output.artifacts)
    todo_ids = set(
        ledger.plan([d.device_id for d in prepared.devices], resume=resume, rerun_failed=rerun_failed)
    )
    ledger.clean_temporaries()
    ledger.out_dir.mkdir(parents=True, exist_ok=True)
    todo = [d for d in prepared.devices if d.device_id in todo_ids]
    mode = "resume" if resume else "rerun-failed" if rerun_failed else "fresh"
    totals = run_into_ledger(prepared.pipeline, todo, ledger, mode)
    _warn_unknown_artifacts(output.artifacts, ledger.artifact_keys_seen)
    written = finalize_outputs(prepared, ledger, totals, prepared.solution.report_builder)
    wanted = {d.device_id for d in prepared.devices}
    records = [r for r in ledger.records() if r.device_id in wanted]
    return RunOutcome(
        totals=totals,
        statuses={r.device_id: r.status for r in records},
        first_errors={r.device_id: r.document["errors"][0] for r in records if r.document["errors"]},
        written=written,
        out_dir=ledger.out_dir,
        config=prepared.pipeline.config,
    )


def _warn_unknown_artifacts(wanted: Sequence[str] | None, seen: set[str]) -> None:
    """A key in ``[output] artifacts`` that no device produced is most likely a typo."""
    unknown = sorted(set(wanted or ()) - seen)
    if unknown and seen:
        logger.warning(
            "[output] artifacts: no device had %s; the DataFrame artifacts of this run are %s",
            ", ".join(map(repr, unknown)), ", ".join(map(repr, sorted(seen))),
        )


@attrs.frozen
class RunOutcome:
    """What a CLI run did: this invocation's totals and every device's recorded status."""

    totals: Any
    statuses: dict[str, str]
    first_errors: dict[str, str]
    written: dict[str, str]
    out_dir: Path
    config: PipelineConfig

    @property
    def failed(self) -> list[str]:
        return sorted(d for d, status in self.statuses.items() if status == "failed")
