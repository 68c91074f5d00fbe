"""Entry point ``meshinsights: {{ cookiecutter.plugin_name }}``: registers the processor.

MeshInsights imports this module when it discovers plugins, so it imports
nothing heavy: the processor (and pandas, pandera) is imported inside the hook.
"""

from __future__ import annotations

from meshinsights import hookimpl
from meshinsights.hookspecs import Register

#: The name to list in a run config's ``extra_processors``.
PROCESSOR_NAME = "{{ cookiecutter.plugin_name }}"


@hookimpl
def register_processors(register: Register) -> None:
    from {{ cookiecutter.module_name }}.processor import {{ cookiecutter.processor_class }}

    register(PROCESSOR_NAME, {{ cookiecutter.processor_class }})
