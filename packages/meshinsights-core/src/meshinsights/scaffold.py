"""Scaffolding: a new processor plugin package from the bundled cookiecutter template.

cookiecutter is an optional dependency (``meshinsights-core[scaffold]``) and
is imported only here, when a package is created. The template ships inside
the wheel (``meshinsights/templates/cookiecutter-processor``); in a source
checkout it is the repository's ``cookiecutter-processor/``.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from meshinsights.errors import ConfigError, MeshInsightsError

TEMPLATE_NAME = "cookiecutter-processor"
INSTALL_HINT = 'pip install "meshinsights-core[scaffold]"'


def template_dir() -> Path:
    """The processor template shipped in the package (a link to the checkout's in a source tree)."""
    package = Path(__file__).resolve().parent
    candidates = [package / "templates" / TEMPLATE_NAME]
    for candidate in candidates:
        if (candidate / "cookiecutter.json").is_file():
            return candidate
    raise MeshInsightsError(
        f"the {TEMPLATE_NAME} template is missing from this installation "
        f"(looked in {', '.join(str(c) for c in candidates)}); reinstall meshinsights-core"
    )


def _naming_rules(template: Path) -> ModuleType:
    """The template's own pre-generation hook, whose functions hold the naming rules.

    Compiled from source without writing bytecode next to it: the template may
    sit in a read-only site-packages, and it is copied as it is.
    """
    path = template / "hooks" / "pre_gen_project.py"
    try:
        code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    except (OSError, SyntaxError) as exc:
        raise MeshInsightsError(f"cannot load the template's naming rules from {path}: {exc}") from None
    module = ModuleType("_meshinsights_template_hooks")
    module.__file__ = str(path)
    exec(code, module.__dict__)
    return module


def check_plugin_name(name: str, template: Path | None = None) -> None:
    """Raise :class:`ConfigError` with every reason ``name`` cannot name a plugin."""
    problems: list[str] = list(_naming_rules(template or template_dir()).name_problems(name))
    if problems:
        raise ConfigError("; ".join(problems))


def new_processor(
    output_dir: Path,
    name: str | None = None,
    no_input: bool = False,
    extra_context: dict[str, Any] | None = None,
) -> Path:
    """Create ``meshinsights-<name>/`` under ``output_dir`` and return its path.

    ``name`` (the plugin name, e.g. ``"occupancy"``) wins over
    ``extra_context["plugin_name"]``; ``extra_context`` may set any other
    answer of the template (``author_name``, ``processor_class``, ...). With
    ``no_input`` nothing is asked and the template's defaults fill the rest.
    A bad name is rejected before anything is written.
    """
    try:
        from cookiecutter.exceptions import (
            CookiecutterException,
            FailedHookException,
            OutputDirExistsException,
        )
        from cookiecutter.main import cookiecutter
    except ImportError:
        raise MeshInsightsError(
            f"creating a plugin package needs cookiecutter: {INSTALL_HINT}"
        ) from None

    template = template_dir()
    context = dict(extra_context or {})
    if name is not None:
        context["plugin_name"] = name
    if "plugin_name" in context:
        check_plugin_name(context["plugin_name"], template)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    try:
        project = cookiecutter(
            str(template), no_input=no_input, extra_context=context, output_dir=str(output_dir)
        )
    except OutputDirExistsException as exc:
        raise MeshInsightsError(f"cannot create the plugin package: {exc} (choose another name)") from None
    except FailedHookException:
        raise ConfigError(
            "the template rejected the answers (the reasons are printed above as ERROR lines)"
        ) from None
    except CookiecutterException as exc:
        raise MeshInsightsError(f"cannot create the plugin package: {exc}") from None
    return Path(project)
