"""Entry point ``meshinsights: hvac``: registers the solution and its processors.

Nothing heavy is imported here; the hooks import the package on first use.
"""

from __future__ import annotations

from meshinsights import hookimpl
from meshinsights.hookspecs import Register


@hookimpl
def register_solutions(register: Register) -> None:
    from meshinsights_hvac.solution import HVAC_SOLUTION_NAME, hvac_solution

    register(HVAC_SOLUTION_NAME, hvac_solution())


@hookimpl
def register_processors(register: Register) -> None:
    from meshinsights_hvac.processors import PROCESSOR_CLASSES

    for cls in PROCESSOR_CLASSES:
        register(cls.__name__, cls)
