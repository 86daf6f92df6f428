"""Wrapping dbt-core internals: once per process, and one clear error when one is missing.

dbt-amp wraps a few dbt-core functions that adapters cannot otherwise reach (dependency aliases
in the parser, `ref()` to a query model as a CTE in the compiler). Each wrapper is installed once;
if dbt-core lacks a function, dbt stops before parsing with an error naming the dbt-core version
and the dbt-core requirement dbt-amp was installed with, instead of failing later and obscurely.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from dbt_common.exceptions import DbtRuntimeError

_MARK = "_amp_dbt_hook"


class DbtCoreHookError(DbtRuntimeError):
    """dbt-core lacks a function dbt-amp wraps."""


def supported_dbt_core() -> str:
    """The dbt-core requirement dbt-amp was installed with (`dbt-core>=1.11,<1.12`)."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        for requirement in requires("dbt-amp") or []:
            if requirement.replace(" ", "").startswith(("dbt-core>", "dbt-core<", "dbt-core=")):
                return requirement.split(";")[0].replace(" ", "")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        pass
    return "dbt-core"


def hook_error(missing: list[str], needed_for: str) -> DbtCoreHookError:
    from dbt.version import __version__ as dbt_core_version

    return DbtCoreHookError(
        f"dbt-amp cannot hook into dbt-core {dbt_core_version}: {'; '.join(missing)}. "
        f"dbt-amp needs it {needed_for}. Install a dbt-core that dbt-amp supports: "
        f"pip install '{supported_dbt_core()}' (or a dbt-amp release made for dbt-core "
        f"{dbt_core_version})."
    )


def missing_functions(targets: list[tuple[Any, str]]) -> list[str]:
    """`<module or class>.<name> is missing` for each (owner, name) that owner does not define."""
    missing = []
    for owner, name in targets:
        if not callable(vars(owner).get(name)):
            where = (
                owner.__name__
                if isinstance(owner, ModuleType)
                else f"{owner.__module__}.{owner.__qualname__}"
            )
            missing.append(f"{where}.{name} is missing")
    return missing


def wrap_once(owner: Any, name: str, make_wrapper: Callable[[Callable], Callable]) -> None:
    """Replace `owner.name` with `make_wrapper(original)`, unless that was done already."""
    original = vars(owner)[name]
    if getattr(original, _MARK, False):
        return
    wrapper = make_wrapper(original)
    setattr(wrapper, _MARK, True)
    setattr(owner, name, wrapper)
