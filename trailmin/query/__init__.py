"""Stage 3, questions to the lake as SQL text, for DuckDB and Athena alike.

- ``sql``: ``Filters`` (the one principal glob rule) and ``resolve_filters``, the window every
  command reads (``Window``), the usage, principals and services queries;
- ``audit``, ``verify``, ``backtest``, ``report``, ``trust``: the queries of those uses;
- ``overview``: fixed questions about the whole lake (its time span, principals, accounts).

Pure: writes SQL, runs none (``trailmin.lake.duck`` runs it). May import ``trailmin.mapping`` (the
error-code outcomes), ``trailmin.text`` and ``trailmin.errors`` (``ruff.toml`` here).
"""
