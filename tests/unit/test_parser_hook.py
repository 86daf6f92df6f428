"""The dbt-core wrappers (dependency aliases in the parser, query-model CTEs): installed once, and a clear error (naming the dbt-core
version and what to install) when dbt-core's parser lacks what it wraps. The missing pieces are
simulated by removing them from dbt-core's modules for the duration of a test."""

import dbt.parser.manifest as manifest_module
import pytest
from dbt.parser.unit_tests import UnitTestManifestLoader
from dbt.version import __version__ as dbt_core_version

from dbt.adapters.amp.dbt_hooks import DbtCoreHookError, supported_dbt_core
from dbt.adapters.amp.dependencies import install_parser_hook


def test_installed_once():
    install_parser_hook()
    wrapped = manifest_module._process_refs
    install_parser_hook()
    assert manifest_module._process_refs is wrapped
    assert getattr(wrapped, "_amp_dbt_hook", False)


@pytest.mark.parametrize(
    "owner,name,missing",
    [
        (manifest_module, "_process_refs", "dbt.parser.manifest._process_refs is missing"),
        (
            UnitTestManifestLoader,
            "parse_unit_test_case",
            "dbt.parser.unit_tests.UnitTestManifestLoader.parse_unit_test_case is missing",
        ),
    ],
    ids=["process_refs", "unit_tests"],
)
def test_a_missing_hook_point_is_a_clear_error(monkeypatch, owner, name, missing):
    monkeypatch.delattr(owner, name)
    with pytest.raises(DbtCoreHookError) as exc:
        install_parser_hook()
    message = str(exc.value)
    assert f"dbt-amp cannot hook into dbt-core {dbt_core_version}" in message
    assert "to keep `ref('<dependency alias>')` out of dbt's DAG" in message
    assert missing in message
    assert f"pip install '{supported_dbt_core()}'" in message
    assert "static_parser" not in message


def test_a_missing_parser_module_is_a_clear_error(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dbt.parser.unit_tests", None)  # import raises ImportError
    with pytest.raises(DbtCoreHookError, match="a parser module is missing"):
        install_parser_hook()


def test_a_missing_compiler_function_is_a_clear_error(monkeypatch):
    from dbt.compilation import Compiler

    from dbt.adapters.amp.query_ctes import install_query_cte_hook

    install_query_cte_hook()
    monkeypatch.delattr(Compiler, "_recursively_prepend_ctes")
    with pytest.raises(DbtCoreHookError) as exc:
        install_query_cte_hook()
    message = str(exc.value)
    assert "dbt.compilation.Compiler._recursively_prepend_ctes is missing" in message
    assert "to inline `ref()` to a `query` model as a CTE" in message
