"""lakehouse_assets: medallion lakehouse pipelines as Dagster software-defined assets.

Importing the package has no side effects: the code location lives in
``lakehouse_assets.definitions`` and is built only when asked for, here as ``defs`` too, so
``dagster … -m lakehouse_assets`` and ``dg`` find it by the package's name.
"""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "defs":
        from lakehouse_assets.definitions import defs

        return defs
    raise AttributeError(f"module 'lakehouse_assets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), "defs"])
