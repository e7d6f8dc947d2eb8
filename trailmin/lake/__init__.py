"""Stage 2, the events lake: Parquet partitions, a manifest committed by rename, one writer at
a time (``store``).

May import ``trailmin.errors`` only: the schemas of its files are its own (``schema``); never
``trailmin.ingestion``, which writes it, nor the stages that read it (``ruff.toml`` here).
"""
