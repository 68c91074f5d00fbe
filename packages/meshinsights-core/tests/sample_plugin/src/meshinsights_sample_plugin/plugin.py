"""Registers a solution and a processor, as a third-party package would."""

from meshinsights import hookimpl


@hookimpl
def register_processors(register):
    from meshinsights_sample_plugin.components import MarkerProcessor

    register("sample_marker", MarkerProcessor)


@hookimpl
def register_solutions(register):
    from meshinsights_sample_plugin.components import SOLUTION

    register("sample-sum", SOLUTION)
