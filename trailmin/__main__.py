"""``python -m trailmin``: the same as the ``trailmin`` command."""

from trailmin.cli import main

main()
