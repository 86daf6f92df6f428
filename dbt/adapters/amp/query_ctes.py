"""`ref()` to a `query` model inlines it as a CTE, as dbt does for `ephemeral` models.

A query model runs on Amp and keeps nothing there, so there is no relation to select from; but its
SQL can be inlined. That is what a dbt user expects: generic, singular and unit tests on a query
model, and one query model feeding another. dbt-core inlines only `ephemeral` models, in two
places adapters cannot reach, so dbt-amp wraps both:

* `RuntimeRefResolver.create_relation`: a ref to a query model records a CTE on the referencing
  node and renders `__dbt__cte__<name>`, exactly as for an ephemeral model;
* `Compiler._recursively_prepend_ctes`: dbt compiles each CTE's node and refuses non-ephemeral
  ones. The query model is therefore compiled as an ephemeral *copy* (the manifest's node is the one
  `dbt run` executes and must keep its own compiled SQL), seen through a manifest view; dbt's own
  code then gathers, orders and de-duplicates the CTEs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from dbt_common.exceptions import CompilationError

from dbt.adapters.amp.dbt_hooks import hook_error, missing_functions, wrap_once

QUERY = "query"


def is_query_model(node: Any) -> bool:
    config = getattr(node, "config", None)
    return (
        getattr(node, "resource_type", None) == "model"
        and getattr(config, "materialized", None) == QUERY
    )


def ephemeral_copy(node: Any) -> Any:
    """A fresh, uncompiled copy of a query model that dbt's CTE code accepts (ephemeral)."""
    twin = copy.deepcopy(node)
    twin.config.materialized = "ephemeral"
    twin.compiled, twin.compiled_code = False, None
    twin.extra_ctes, twin.extra_ctes_injected = [], False
    twin._pre_injected_sql = None
    return twin


class _NodesWithCopies(Mapping):
    """The manifest's nodes, with ephemeral copies standing in for some query models."""

    def __init__(self, nodes: Mapping, copies: dict[str, Any]) -> None:
        self._nodes, self._copies = nodes, copies

    def __getitem__(self, unique_id: str) -> Any:
        return self._copies[unique_id] if unique_id in self._copies else self._nodes[unique_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)


class _ManifestView:
    """The manifest as dbt's CTE compiler sees it: `nodes` holds the copies, all else is the
    real manifest (refs inside the copies still resolve to the real nodes)."""

    def __init__(self, manifest: Any, copies: dict[str, Any]) -> None:
        self._manifest = manifest
        self.nodes = _NodesWithCopies(manifest.nodes, copies)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manifest, name)


def _wrap_create_relation(create_relation):
    def wrapper(self, target_model, *args, **kwargs):
        if not is_query_model(target_model):
            return create_relation(self, target_model, *args, **kwargs)
        if not hasattr(self.model, "set_cte"):  # a run-operation macro: nothing to inline into
            raise CompilationError(
                f"A macro run by run-operation calls ref('{target_model.name}'), a `query` "
                "model: it exists only as a CTE inlined into the nodes that ref it, so an "
                "operation cannot select from it. Use it from a model or a test."
            )
        self.model.set_cte(target_model.unique_id, None)
        return self.Relation.create_ephemeral_from(
            target_model,
            limit=self.resolve_limit,
            event_time_filter=self.resolve_event_time_filter(target_model),
        )

    return wrapper


def _wrap_recursively_prepend_ctes(prepend_ctes):
    def wrapper(self, model, manifest, extra_context, *args, **kwargs):
        real = manifest._manifest if isinstance(manifest, _ManifestView) else manifest
        copies = {
            cte.id: ephemeral_copy(real.nodes[cte.id])
            for cte in getattr(model, "extra_ctes", None) or []
            if not model.extra_ctes_injected
            and cte.id in real.nodes
            and is_query_model(real.nodes[cte.id])
        }
        if copies:
            manifest = _ManifestView(real, copies)
        return prepend_ctes(self, model, manifest, extra_context, *args, **kwargs)

    return wrapper


def install_query_cte_hook() -> None:
    """Install both wrappers once per process; raise DbtCoreHookError if dbt-core lacks one."""
    needed_for = "to inline `ref()` to a `query` model as a CTE (as for ephemeral models)"
    try:
        from dbt.compilation import Compiler
        from dbt.context.providers import RuntimeRefResolver
    except ImportError as exc:
        raise hook_error([f"a compiler module is missing ({exc})"], needed_for) from exc
    targets = [(RuntimeRefResolver, "create_relation"), (Compiler, "_recursively_prepend_ctes")]
    missing = missing_functions(targets)
    if missing:
        raise hook_error(missing, needed_for)
    wrap_once(RuntimeRefResolver, "create_relation", _wrap_create_relation)
    wrap_once(Compiler, "_recursively_prepend_ctes", _wrap_recursively_prepend_ctes)
