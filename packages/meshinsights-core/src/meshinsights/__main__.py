"""``python -m meshinsights``: the same as the ``meshinsights`` command."""

from meshinsights.cli import main

main()
