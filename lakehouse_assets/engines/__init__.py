"""Where a source's silver and gold run: DuckDB in the step (the default), Spark through Dagster
Pipes (a local ``pyspark`` subprocess, or AWS Glue), or Athena (gold only).

The choice is configuration (``LAKEHOUSE_ENGINES``, read by :mod:`lakehouse_assets.settings`),
never code: the assets ask the ``engines`` resource which engine a layer of a source runs on.
The typing and gold SQL are written once, in DuckDB's dialect, and transpiled with sqlglot for
the other engines (:mod:`lakehouse_assets.engines.sql`).
"""
