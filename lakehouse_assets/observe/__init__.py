"""Knowing the data: SQL over the catalog, usage and cost per run, column lineage helpers."""
