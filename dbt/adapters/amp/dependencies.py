"""Make `ref('<dependency alias>')` a non-ref for dbt's DAG.

With `dependencies={'eth': '_/eth_firehose@1.0.0'}` on a node (in-file `config(...)`, `+dependencies`
in dbt_project.yml, or `config: {dependencies: ...}` in a properties YAML), `{{ ref('eth') }}` names
an Amp dataset, not a dbt node. dbt records every `ref()` it sees while parsing (the static parser
from the source text, Jinja rendering through `builtins.ref`) and would later fail with "depends on
a node named 'eth' which was not found". Three hooks on dbt-core's parser keep that from happening:

* `render_update` (after a node is parsed and its in-file / project config merged): validate the
  node's `dependencies` early, so a bad value is a parse error naming the file.
* `_process_refs` (dbt.parser.manifest, called by `ManifestLoader.process_refs` after YAML patches
  are applied, and for inline SQL nodes): drop the refs that name one of the node's aliases, refuse
  an alias that shadows a model/seed/snapshot of the same name, and explain `ref('pkg', 'alias')`.
* `UnitTestManifestLoader.parse_unit_test_case`: a unit-test node is built from the tested model's
  SQL but carries its own config; copy the tested model's `dependencies` onto it (so the adapter's
  `ref` macro resolves the aliases) and drop the alias refs it recorded.

At compile time the adapter's `ref` macro renders an alias as the dataset reference. These wrap
dbt-core internals that are stable since dbt-core 1.0 (`render_update`, `_process_refs`) and 1.8
(unit tests). There is no fallback without them (with the static parser off, dbt records the ref
while rendering the model), so if one is missing the adapter refuses to load, naming the
dbt-core version (dbt_hooks.DbtCoreHookError).
"""

from __future__ import annotations

import functools
from typing import Any

from dbt_common.contracts.config.base import BaseConfig
from dbt_common.exceptions import CompilationError

from dbt.adapters.amp.dbt_hooks import hook_error, missing_functions, wrap_once
from dbt.adapters.amp.references import validate_dependencies
from dbt.adapters.amp.suggestions import ref_suggestion

# The resource types `ref()` can name: a dependency alias with one of their names shadows it.
REFABLE = ("model", "seed", "snapshot")


def node_get(node: Any, key: str, default: Any = None) -> Any:
    """`key` of a node, whether it is a dict (the Jinja `graph`) or a parsed node object."""
    if isinstance(node, dict):
        return node.get(key, default)
    return getattr(node, key, default)


def node_label(node: Any, default_kind: str = "node") -> str:
    """`model 'name' (models/name.sql)`, for messages."""
    kind = node_get(node, "resource_type") or default_kind
    path = node_get(node, "original_file_path") or ""
    return f"{kind} '{node_get(node, 'name', '?')}'" + (f" ({path})" if path else "")


def checked_dependencies(value: Any, where: str = "") -> dict[str, str]:
    """The validated `dependencies` value; `where` (e.g. " on model 'x'") names its node."""
    try:
        return validate_dependencies(value)
    except ValueError as exc:
        raise CompilationError(f"Invalid `dependencies` config{where}: {exc}") from None


def dependency_aliases(node: Any) -> dict[str, str]:
    config = getattr(node, "config", None)
    value = config.get("dependencies") if config is not None else None
    return checked_dependencies(value, f" on {node_label(node)}")


def shadowing_message(node: Any, alias: str, reference: str, shadowed: list[str]) -> str:
    """The error for a dependency alias that has the name of a dbt node."""
    return (
        f"{node_label(node)} declares the dependency alias '{alias}' ('{reference}'), but "
        f"{' and '.join(shadowed)} has the same name: `ref('{alias}')` would silently mean the "
        "dataset, not the node. "
        f"Rename the alias in `dependencies` (e.g. {{'{alias}_ds': '{reference}'}} with "
        f"`{{{{ ref('{alias}_ds') }}}}`), or rename the model."
    )


def check_not_shadowing(node: Any, alias: str, reference: str, unique_ids: list[str]) -> None:
    """Refuse `alias` if any of `unique_ids` (the nodes named `alias`) is refable."""
    shadowed = [
        f"{uid.split('.', 1)[0]} '{alias}' ({uid})"
        for uid in unique_ids
        if uid.split(".", 1)[0] in REFABLE
    ]
    if shadowed:
        raise CompilationError(shadowing_message(node, alias, reference, shadowed))


def _nodes_named(manifest: Any, name: str) -> list[str]:
    lookup = getattr(manifest, "ref_lookup", None)
    storage = getattr(lookup, "storage", None)
    if isinstance(storage, dict):
        return list((storage.get(name) or {}).values())
    return [  # pragma: no cover - dbt-core layout changed
        uid
        for uid, n in getattr(manifest, "nodes", {}).items()
        if getattr(n, "name", None) == name
    ]


def _refable_nodes_named(manifest: Any, name: str) -> list[str]:
    return [uid for uid in _nodes_named(manifest, name) if uid.split(".", 1)[0] in REFABLE]


def drop_dependency_refs(node: Any, manifest: Any = None) -> None:
    """Drop `ref('<alias>')` from `node.refs`; with `manifest`, refuse shadowing and
    `ref('pkg', '<alias>')`."""
    aliases = dependency_aliases(node)
    refs = getattr(node, "refs", None)
    if not aliases or not refs:
        return
    kept = []
    for ref in refs:
        if ref.name not in aliases:
            kept.append(ref)
            continue
        if ref.package is not None or ref.version is not None:
            if manifest is not None and not _refable_nodes_named(manifest, ref.name):
                args = ", ".join(repr(a) for a in ref.positional_args)
                raise CompilationError(
                    f"{node_label(node)} calls ref({args}), but '{ref.name}' is a dependency alias "
                    f"('{aliases[ref.name]}'): an alias takes exactly one argument, "
                    f"`{{{{ ref('{ref.name}') }}}}` (no package, no version)."
                )
            kept.append(ref)
            continue
        if manifest is not None:
            check_not_shadowing(
                node, ref.name, aliases[ref.name], _nodes_named(manifest, ref.name)
            )
    node.refs = kept


def config_flag(value: Any, default: bool = False) -> bool:
    """A boolean config as dbt users write it: true/false, or "true"/"1"/"yes" from YAML or vars."""
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def promote_registered_model(node: Any) -> None:
    """The original design's `register: true` means "this model is an Amp dataset": make it
    `materialized='dataset'` (any materialization it inherited, e.g. the project's ephemeral
    default, gives way)."""
    config = getattr(node, "config", None)
    if getattr(node, "resource_type", None) != "model" or not isinstance(config, BaseConfig):
        return
    if config_flag(config.get("register")) and config.get("materialized") != "dataset":
        config.materialized = "dataset"


def _wrap_render_update(render_update):
    @functools.wraps(render_update)
    def wrapper(self, node, *args, **kwargs):
        result = render_update(self, node, *args, **kwargs)
        dependency_aliases(node)  # a bad `dependencies` value fails here, naming the file
        promote_registered_model(node)
        return result

    return wrapper


def _wrap_process_refs(process_refs):
    from dbt.exceptions import TargetNotFoundError

    @functools.wraps(process_refs)
    def wrapper(manifest, current_project, node, *args, **kwargs):
        # seeds have no refs (SeedNode.refs raises); exposures, metrics... have no `dependencies`
        configured = getattr(node, "resource_type", None) != "seed" and isinstance(
            getattr(node, "config", None), BaseConfig
        )
        if configured:
            drop_dependency_refs(node, manifest)
            promote_registered_model(node)  # `register: true` from a properties YAML
        try:
            return process_refs(manifest, current_project, node, *args, **kwargs)
        except TargetNotFoundError as exc:  # a ref to nothing: suggest the closest names
            if exc.target_kind == "node" and not exc.disabled:
                aliases = dependency_aliases(node) if configured else {}
                exc.msg += ref_suggestion(manifest, node, exc.target_name, aliases)
            raise

    return wrapper


def _wrap_parse_unit_test_case(parse_unit_test_case):
    @functools.wraps(parse_unit_test_case)
    def wrapper(self, test_case, *args, **kwargs):
        result = parse_unit_test_case(self, test_case, *args, **kwargs)
        unit_node = self.unit_test_manifest.nodes.get(test_case.unique_id)
        tested_id = getattr(unit_node, "tested_node_unique_id", None)
        tested = self.manifest.nodes.get(tested_id) if tested_id else None
        if unit_node is not None and tested is not None:
            aliases = dependency_aliases(tested)
            if aliases:
                unit_node.config._extra["dependencies"] = dict(aliases)
                drop_dependency_refs(unit_node)
        return result

    return wrapper


def install_parser_hook() -> None:
    """Install the hooks once per process; raise DbtCoreHookError if dbt-core lacks one."""
    needed_for = (
        "to keep `ref('<dependency alias>')` out of dbt's DAG (without it dbt fails with "
        "\"depends on a node named '<alias>' which was not found\", and no dbt flag avoids that)"
    )
    try:
        import dbt.parser.manifest as manifest_module
        from dbt.parser.base import ConfiguredParser
        from dbt.parser.models import ModelParser
        from dbt.parser.unit_tests import UnitTestManifestLoader
    except ImportError as exc:
        raise hook_error([f"a parser module is missing ({exc})"], needed_for) from exc
    required = [
        (ConfiguredParser, "render_update"),
        (UnitTestManifestLoader, "parse_unit_test_case"),
        (manifest_module, "_process_refs"),
    ]
    missing = missing_functions(required)
    if missing:
        raise hook_error(missing, needed_for)
    wrap_once(ConfiguredParser, "render_update", _wrap_render_update)
    if "render_update" in vars(ModelParser):  # ModelParser overrides it (else it inherits)
        wrap_once(ModelParser, "render_update", _wrap_render_update)
    wrap_once(UnitTestManifestLoader, "parse_unit_test_case", _wrap_parse_unit_test_case)
    wrap_once(manifest_module, "_process_refs", _wrap_process_refs)
