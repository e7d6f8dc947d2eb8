"""Stage 6, the scheduled job: its configuration (``config``, checked values) and the run that
ingests, proposes, diffs and writes only what changed (``propose``).

May import ``trailmin.api`` and every stage below it; never ``trailmin.cli``, typer or rich
(``ruff.toml`` here).
"""
