"""The ``meshinsights`` command.

Exit codes: 0 when every device finished, 1 when some devices failed, 2 on a
usage, config or plugin error. Only click is imported at start-up, so
``--help`` answers without loading pandas or any plugin.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

EXIT_OK = 0
EXIT_DEVICES_FAILED = 1
EXIT_USAGE = 2


def _fail(message: str) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(EXIT_USAGE)


def _configure(ctx: click.Context) -> None:
    from meshinsights.logs import configure_logging

    configure_logging(ctx.obj["log_level"] or "INFO")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    default=None, help="Logging verbosity (default: the run config's, else INFO).",
)
@click.option(
    "--strict", is_flag=True,
    help="Fail when any plugin fails to load (also MESHINSIGHTS_STRICT_PLUGINS=1).",
)
@click.version_option(package_name="meshinsights-core", prog_name="meshinsights")
@click.pass_context
def main(ctx: click.Context, log_level: str | None, strict: bool) -> None:
    """MeshInsights: batch analytics over fleets of IoT devices."""
    ctx.ensure_object(dict)
    ctx.obj["log_level"] = log_level.upper() if log_level else None
    if strict:
        os.environ["MESHINSIGHTS_STRICT_PLUGINS"] = "1"


def _prepare(config: str, log_level: str | None = None) -> Any:
    from meshinsights.errors import MeshInsightsError
    from meshinsights.run import prepare_run

    try:
        return prepare_run(config, log_level=log_level)
    except MeshInsightsError as exc:
        _fail(str(exc))


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.pass_context
def validate(ctx: click.Context, config: str) -> None:
    """Check CONFIG: parse it, resolve every plugin, probe the connector. Runs nothing."""
    _configure(ctx)
    from meshinsights.run import check_connection

    prepared = _prepare(config)
    problem = check_connection(prepared)
    if problem:
        _fail(problem)
    section = prepared.config.pipeline
    extra = ", ".join(section.extra_processors) or "none"
    click.echo(
        f"ok: solution {section.solution!r}, {len(prepared.devices)} devices, "
        f"connector {prepared.config.connection_plugin or 'none'} reachable, extra processors: {extra}"
    )


@main.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--resume", is_flag=True, help="Skip devices an earlier run into the same output dir finished.")
@click.option("--rerun-failed", is_flag=True, help="Run only the devices that failed last time.")
@click.pass_context
def run(ctx: click.Context, config: str, resume: bool, rerun_failed: bool) -> None:
    """Run the pipeline described by CONFIG over its devices."""
    _configure(ctx)
    _execute(_prepare(config, ctx.obj["log_level"]), resume=resume, rerun_failed=rerun_failed)


def _execute(prepared: Any, *, resume: bool, rerun_failed: bool) -> NoReturn:
    from meshinsights.errors import MeshInsightsError
    from meshinsights.plugins import get_host
    from meshinsights.progress import LogProgress, RichProgress
    from meshinsights.run import execute

    host = get_host()
    observer: Any = RichProgress() if sys.stderr.isatty() else LogProgress()
    name = host.register(observer, name="meshinsights-progress")
    try:
        outcome = execute(prepared, resume=resume, rerun_failed=rerun_failed)
    except MeshInsightsError as exc:
        _fail(str(exc))
    finally:
        if isinstance(observer, RichProgress):
            observer.progress.stop()
        host.unregister(name)
    _print_outcome(outcome)
    sys.exit(EXIT_DEVICES_FAILED if outcome.failed else EXIT_OK)


def _print_outcome(outcome: Any) -> None:
    totals = outcome.totals
    by_status: dict[str, int] = {}
    for status in outcome.statuses.values():
        by_status[status] = by_status.get(status, 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(by_status.items()))
    click.echo(
        f"run {totals.run_id or '-'} ({totals.mode}): processed {totals.processed} devices in "
        f"{totals.wall_time:.2f} s; all devices: {counts or 'none'}"
    )
    for device_id in outcome.failed[:20]:
        click.echo(f"  failed {device_id}: {outcome.first_errors.get(device_id, 'see devices.jsonl')}")
    if len(outcome.failed) > 20:
        click.echo(f"  ... and {len(outcome.failed) - 20} more failed devices (see summary.csv)")
    retried = totals.retries.summary()
    if retried:  # e.g. "retries: mysql 12 (3.4 s waiting)"; the manifest has the details
        click.echo(f"  {retried}")
    if totals.processed:
        from meshinsights.tuning import tuning_advice

        advice = tuning_advice(totals.as_results(), outcome.config,
                               output_busy_s=totals.write_busy_s,
                               output_waited_s=totals.write_waited_s)
        for line in advice.lines():
            click.echo(f"  {line}")
    for name, path in outcome.written.items():
        click.echo(f"  wrote {name}: {path}")


@main.command()
@click.option("--devices", "n_devices", type=click.IntRange(min=1), default=50, show_default=True,
              help="How many demo devices to generate.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="meshinsights-demo",
              show_default=True, help="Folder for the data, the run config and the results.")
@click.option("--solution", default="hvac-power", show_default=True, help="Solution whose demo to run.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the generated fleet.")
@click.pass_context
def demo(ctx: click.Context, n_devices: int, out_dir: str, solution: str, seed: int) -> None:
    """Generate a demo fleet, write a run config for it, and run it.

    Writes OUT/data/ (the fleet), OUT/demo.toml (a run config to edit and pass
    to `meshinsights run`) and the results under OUT/results/.
    """
    _configure(ctx)
    from pathlib import Path

    from meshinsights.errors import MeshInsightsError
    from meshinsights.solution import find_solution

    try:
        found = find_solution(solution)
    except MeshInsightsError as exc:
        _fail(f"{exc}; the HVAC demo needs: pip install meshinsights-hvac meshinsights-connector-file")
    if found.demo is None:
        _fail(f"solution {solution!r} has no demo")
    target = Path(out_dir)
    if (target / "results" / "ledger").exists():
        _fail(f"{target} already holds a demo run; remove it or choose another --out")
    click.echo(f"generating {n_devices} demo devices into {target / 'data'} ...", err=True)
    config_path = found.demo(target, n_devices, seed)
    click.echo(f"wrote run config {config_path}", err=True)
    _execute(_prepare(str(config_path), ctx.obj["log_level"]), resume=False, rerun_failed=False)


@main.group()
def new() -> None:
    """Scaffold new plugin packages."""


@new.command("processor")
@click.argument("name", required=False)
@click.option("--output-dir", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Where to create the package folder.")
@click.option("--no-input", is_flag=True, help="Do not prompt; use NAME and the template defaults.")
def new_processor(name: str | None, output_dir: str, no_input: bool) -> None:
    """Create a processor plugin package meshinsights-NAME from the template."""
    from pathlib import Path

    from meshinsights.errors import MeshInsightsError
    from meshinsights.scaffold import new_processor as scaffold

    try:
        project = scaffold(Path(output_dir), name=name, no_input=no_input)
    except MeshInsightsError as exc:
        _fail(str(exc))
    click.echo(f"created {project}")
    click.echo(f"next: pip install -e {project} && python -m pytest {project}/tests")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the load report as JSON.")
def plugins(as_json: bool) -> None:
    """List plugins: distribution, version, what they registered, load time, errors."""
    from meshinsights.errors import PluginError
    from meshinsights.plugins import get_host

    try:
        host = get_host()
        registry = host.registry
    except PluginError as exc:
        _fail(str(exc))
    rows = [
        {
            "plugin": record.name,
            "distribution": record.distribution,
            "version": record.version,
            "source": record.source,
            "registered": registry.registered_by(record.name),
            "load_ms": round(record.load_seconds * 1000, 1),
            "status": "blocked" if record.blocked else ("error" if record.error else "ok"),
            "error": record.error,
        }
        for record in host.records.values()
    ]
    if as_json:
        import json

        click.echo(json.dumps(rows, indent=2))
        return
    _print_plugin_table(rows)


def _print_plugin_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="MeshInsights plugins")
    for column in ("plugin", "distribution", "version", "registered", "load ms"):
        table.add_column(column, no_wrap=column in ("plugin", "version", "load ms"))
    table.add_column("status", overflow="fold")
    for row in rows:
        registered = "; ".join(f"{k}: {', '.join(v)}" for k, v in row["registered"].items())
        status = row["status"]
        if row["error"]:
            status = f"[red]error: {row['error'].strip().splitlines()[-1]}[/red]"
        table.add_row(
            row["plugin"], row["distribution"], row["version"], registered or "-",
            str(row["load_ms"]), status,
        )
    # Off a terminal (pipes, CI logs) rich would squeeze the table into 80 columns.
    Console(width=None if sys.stdout.isatty() else 160).print(table)


if __name__ == "__main__":  # pragma: no cover
    main()
