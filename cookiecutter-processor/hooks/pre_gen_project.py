"""Reject names that would not make a valid, distinct MeshInsights plugin package.

cookiecutter runs this file as a script with the answers rendered in; the
naming rules are plain functions so that ``meshinsights.scaffold`` can check
a name before baking anything.
"""

from __future__ import annotations

import json
import keyword
import re
import sys

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
MAX_NAME_LENGTH = 40
DIST_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
CLASS_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")
#: Free text written into pyproject.toml strings.
TEXT_FIELDS = ("description", "author_name", "author_email")

#: Names MeshInsights itself uses: the core distribution and its modules, the
#: built-in ``memory`` plugin, and the first-party plugins (entry-point names and
#: ``meshinsights_<name>`` modules). A plugin under one of them would shadow it
#: or be reported as a second plugin of the same name.
RESERVED_NAMES = frozenset({
    "meshinsights", "core", "builtin", "testing", "templates", "scaffold", "cli", "memory",
    "hvac", "adx", "file", "mysql", "sitesage",
    "connector_adx", "connector_file", "connector_mysql", "connector_sitesage",
})


def name_problems(name: object) -> list[str]:
    """Why ``name`` cannot be a plugin name; empty when it can."""
    if not isinstance(name, str) or not name:
        return [f"the plugin name must be a non-empty string, got {name!r}"]
    problems = []
    if not NAME_RE.match(name):
        problems.append(
            f"plugin name {name!r} is not a lowercase identifier-like name: use lowercase "
            "letters, digits and single underscores, starting with a letter (e.g. 'occupancy', "
            "'peak_demand')"
        )
    elif len(name) > MAX_NAME_LENGTH:
        problems.append(f"plugin name {name!r} is longer than {MAX_NAME_LENGTH} characters")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        problems.append(f"plugin name {name!r} is a Python keyword")
    if name in RESERVED_NAMES:
        problems.append(
            f"plugin name {name!r} clashes with a MeshInsights core name "
            f"(reserved: {', '.join(sorted(RESERVED_NAMES))})"
        )
    return problems


def problems_of(answers: dict[str, object]) -> list[str]:
    """Every problem of the template's answers (the name and the names derived from it)."""
    problems = name_problems(answers.get("plugin_name"))
    if problems:
        return problems  # the derived names inherit the problem; report it once
    slug, module, cls = (
        answers.get("project_slug"), answers.get("module_name"), answers.get("processor_class")
    )
    if not isinstance(slug, str) or not DIST_RE.match(slug):
        problems.append(
            f"project_slug {slug!r} is not a valid distribution name "
            "(lowercase letters, digits, '-' and '.')"
        )
    if not isinstance(module, str) or not module.isidentifier() or keyword.iskeyword(module):
        problems.append(f"module_name {module!r} is not a valid Python module name")
    elif module == "meshinsights" or not module.startswith("meshinsights_"):
        problems.append(
            f"module_name {module!r} must start with 'meshinsights_' (e.g. meshinsights_occupancy)"
        )
    if not isinstance(cls, str) or not CLASS_RE.match(cls) or keyword.iskeyword(cls):
        problems.append(
            f"processor_class {cls!r} is not a CapWords class name (e.g. OccupancyProcessor)"
        )
    for key in TEXT_FIELDS:
        value = answers.get(key)
        if not isinstance(value, str) or any(c in value for c in '"\\\n'):
            problems.append(f"{key} {value!r} must be one line of text without '\"' or '\\\\'")
    return problems


def main() -> int:
    # The answers arrive as JSON text (tojson escapes quotes), so any input parses.
    answers = json.loads(r'''{
        "plugin_name": {{ cookiecutter.plugin_name | tojson }},
        "project_slug": {{ cookiecutter.project_slug | tojson }},
        "module_name": {{ cookiecutter.module_name | tojson }},
        "processor_class": {{ cookiecutter.processor_class | tojson }},
        "description": {{ cookiecutter.description | tojson }},
        "author_name": {{ cookiecutter.author_name | tojson }},
        "author_email": {{ cookiecutter.author_email | tojson }}
    }''')
    problems = problems_of(answers)
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
