"""The pluggy markers of the ``meshinsights`` project (cheap to import)."""

from __future__ import annotations

import pluggy

PROJECT_NAME = "meshinsights"
#: The entry-point group plugins declare in ``[project.entry-points.meshinsights]``.
ENTRY_POINT_GROUP = PROJECT_NAME

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
