"""Stage 1, sources to lake: find CloudTrail files (``sources`` on disk, ``s3`` in a bucket),
decode their records (``decode``), tell who acted (``principals``), turn them into the
lake's columns with the permissions each needed (``columns``, over ``trailmin.mapping``) and
write them into the lake (``pipeline``, over ``trailmin.lake``).

May import ``trailmin.aws``, ``trailmin.mapping``, ``trailmin.lake`` and ``trailmin.errors``;
boto3 only in ``s3`` and ``sources``; never the stages after the lake (``ruff.toml`` here).
"""
