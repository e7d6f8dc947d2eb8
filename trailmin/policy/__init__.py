"""Stage 4, from usage to policies: generation (``generate``, ``churn``; per group and the users
in it: ``groups``), the evaluator (``evaluate``) and what policies grant (``expand``), the replay
of calls (``replay``, ``catalog_replay``), the backtest (``backtest``), what to review first
(``review``), and the files (``render``).

Pure: values in, values out; no I/O, no DuckDB, boto3, typer or rich. May import
``trailmin.aws``, ``trailmin.mapping``, ``trailmin.query``, ``trailmin.text`` and
``trailmin.errors``; never ``trailmin.iam`` or later stages (``ruff.toml`` here).
"""
