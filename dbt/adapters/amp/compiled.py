"""A model's compiled SQL, its CTEs included, for planning: nothing executed, nothing written.

`dbt docs generate`, `amp_check` and typed unit-test fixtures need the SQL of models the current
command may not have compiled. A copy of the node is compiled every time: the manifest's node is
the one dbt runs (and dbt's own compiled state of an ephemeral node that was compiled twice can
lack its CTEs), so it is never read for this nor touched.
"""

from __future__ import annotations

import copy
from typing import Any

from dbt.adapters.amp.sql_text import strip_trailing_comments


def compiled_sql(config: Any, manifest: Any, node: Any) -> str:
    from dbt.compilation import Compiler

    node = copy.deepcopy(node)
    node.extra_ctes, node.extra_ctes_injected, node.compiled = [], False, False
    node._pre_injected_sql = None
    node = Compiler(config).compile_node(node, manifest, {}, write=False)
    return strip_trailing_comments(node.compiled_code)
