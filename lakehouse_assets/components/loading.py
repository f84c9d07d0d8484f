"""Loading the defs folder of declared sources into the code location.

``dg.load_from_defs_folder`` finds its folder through ``[tool.dg]`` in a ``pyproject.toml``
beside the package, which an installed wheel (the deployment's image) does not have; the
component tree it builds is the same as the one built here from the package's own ``defs``
module, so this works installed or not. A declaration that does not load fails the whole code
location with a :class:`DeclarationLoadError` naming the YAML file, line and field.
"""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path

import dagster as dg

from lakehouse_assets.settings import PipelineSettings

#: The package's defs folder: one sub-folder per declared source, YAML (and SQL) only.
DEFS_MODULE = "lakehouse_assets.defs"


class DeclarationLoadError(ValueError):
    """A declared source does not load; the message says which file, line and field."""


def declared_sources(pipeline: PipelineSettings, module: str = DEFS_MODULE) -> dg.Definitions:
    """The definitions of every component declared under ``module``'s folder."""
    from lakehouse_assets.components.component import PIPELINE

    defs_module = importlib.import_module(module)
    folder = Path(next(iter(defs_module.__path__)))
    token = PIPELINE.set(pipeline)
    try:
        with warnings.catch_warnings():  # beta code references Dagster attaches to each asset
            warnings.simplefilter("ignore", dg.BetaWarning)
            tree = dg.ComponentTree.from_module(defs_module=defs_module, project_root=folder.parent)
            return _build(tree)
    except Exception as error:
        raise DeclarationLoadError(describe_load_error(error)) from error
    finally:
        PIPELINE.reset(token)


def _build(tree: dg.ComponentTree) -> dg.Definitions:
    """The tree's definitions, each top-level declaration built as ``tree.build_defs()`` does,
    without the metadata on every installed component library it adds at the root (for ``dg``
    tooling): gathering it imports every plugin package, about a second of code-location load."""
    context = tree.load_context
    children = context.component_decl.iterate_child_component_decls()
    return dg.Definitions.merge(*(context.build_defs(child.loc) for child in children))


_TREE = re.compile(r"\n\s*(?:[├└│]|Component tree|Defs module)", re.UNICODE)


def describe_load_error(error: BaseException) -> str:
    """The innermost useful message: Dagster's validation text (file:line and field) or the
    component's own, without the component-tree dump Dagster appends."""
    messages = []
    current: BaseException | None = error
    while current is not None:
        messages.append(str(current))
        current = current.__cause__ or current.__context__
    for message in reversed(messages):
        if ".yaml" in message:
            return _TREE.split(message, maxsplit=1)[0].strip()
    return messages[-1]
