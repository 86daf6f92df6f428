"""`dbt run-operation amp_check`: which models `amp_check` plans.

Selection uses dbt's own selector syntax (`--args "{select: 'tag:marts', exclude: 'stg_swaps'}"`),
resolved over the manifest's DAG, so it means the same as `-s` / `--exclude` on `dbt run`.
"""

from __future__ import annotations

from typing import Any


def _as_list(value: Any) -> list[str] | None:
    if value is None or value == "":
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def selected_models(manifest: Any, select: Any = None, exclude: Any = None) -> list[Any]:
    """The enabled models that `select` / `exclude` pick (all models without `select`)."""
    from dbt.compilation import Linker
    from dbt.graph import Graph, NodeSelector, parse_difference

    linker = Linker()
    linker.link_graph(manifest)
    selector = NodeSelector(Graph(linker.graph), manifest)
    spec = parse_difference(_as_list(select), _as_list(exclude))
    chosen = selector.get_selected(spec)
    return sorted(
        (manifest.nodes[uid] for uid in chosen if uid in manifest.nodes),
        key=lambda node: node.unique_id,
    )
