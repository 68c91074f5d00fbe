"""A plugin implementing a hook that MeshInsights does not define."""

from meshinsights import hookimpl


@hookimpl
def register_widgets(register):
    register("widget", object())
