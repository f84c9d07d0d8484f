"""lakehouse_assets: medallion lakehouse pipelines as Dagster software-defined assets.

Importing the package has no side effects: the code location lives in
``lakehouse_assets.definitions``.
"""

__version__ = "0.1.0"
