"""Make `ref('<dependency alias>')` a non-ref for dbt's DAG.

With `dependencies={'eth': '_/eth_firehose@1.0.0'}` on a node (in-file `config(...)`, or
`+dependencies` in dbt_project.yml / properties), `{{ ref('eth') }}` names an Amp dataset, not a
dbt node. dbt records every `ref()` it sees while parsing (the static parser from the source text,
Jinja rendering through `builtins.ref`) and would later fail with "depends on a node named 'eth'
which was not found". After dbt-core has parsed a node and merged its config (`render_update`), this
hook validates the node's `dependencies` and drops the refs that name one of its aliases, so both
parsing paths work without any project flag. At compile time the adapter's `ref` macro renders
the alias as the dataset reference.

This wraps a dbt-core parser method (`render_update`, stable since dbt-core 1.0). If it is ever
missing, nothing is patched and the documented fallback applies: `flags: {static_parser: false}`.
"""

from __future__ import annotations

import functools
from typing import Any

from dbt_common.exceptions import CompilationError

from dbt.adapters.amp.references import validate_dependencies

_PATCHED = "_amp_dependencies_hook"


def dependency_aliases(node: Any) -> dict[str, str]:
    config = getattr(node, "config", None)
    value = config.get("dependencies") if config is not None else None
    try:
        return validate_dependencies(value)
    except ValueError as exc:
        path = getattr(node, "original_file_path", "") or getattr(node, "name", "")
        raise CompilationError(
            f"Invalid `dependencies` config on {getattr(node, 'resource_type', 'node')} "
            f"'{getattr(node, 'name', '?')}' ({path}): {exc}"
        ) from None


def drop_dependency_refs(node: Any) -> None:
    aliases = dependency_aliases(node)
    if not aliases or not getattr(node, "refs", None):
        return
    node.refs = [
        ref
        for ref in node.refs
        if not (ref.name in aliases and ref.package is None and ref.version is None)
    ]


def _wrap(render_update):
    @functools.wraps(render_update)
    def wrapper(self, node, *args, **kwargs):
        result = render_update(self, node, *args, **kwargs)
        drop_dependency_refs(node)
        return result

    setattr(wrapper, _PATCHED, True)
    return wrapper


def install_parser_hook() -> bool:
    """Wrap `render_update` of dbt's SQL parsers once per process; True if installed."""
    try:
        from dbt.parser.base import ConfiguredParser
        from dbt.parser.models import ModelParser
    except ImportError:  # pragma: no cover - dbt-core layout changed
        return False
    installed = False
    for cls in (ConfiguredParser, ModelParser):
        method = cls.__dict__.get("render_update")
        if method is None:
            continue
        if not getattr(method, _PATCHED, False):
            cls.render_update = _wrap(method)
        installed = True
    return installed
