"""Relations render without a database part: `"_/eth_firehose@1.0.0".logs`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dbt.adapters.base.relation import BaseRelation
from dbt.adapters.contracts.relation import Policy


@dataclass
class AmpIncludePolicy(Policy):
    database: bool = False
    schema: bool = True
    identifier: bool = True


@dataclass
class AmpQuotePolicy(Policy):
    # Dataset references contain `/`, `@` and `.`, so schemas are always quoted. Table names follow
    # DataFusion's folding (unquoted = lower case), which is what Amp's raw tables use.
    database: bool = False
    schema: bool = True
    identifier: bool = False


@dataclass(frozen=True, eq=False, repr=False)
class AmpRelation(BaseRelation):
    include_policy: Policy = field(default_factory=lambda: AmpIncludePolicy())
    quote_policy: Policy = field(default_factory=lambda: AmpQuotePolicy())
    require_alias: bool = False


_NOT_TABLES = ("_", "is_", "has_", "can_", "get_", "to_", "from_", "render", "quote", "include")
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
EMPTY_ALIAS_MESSAGE = (
    "`{{{{ ref('{alias}') }}}}.<table>` cannot be limited under --empty: the table name is appended "
    "as text after the dataset reference {reference}, so dbt-amp cannot wrap it in "
    "`where false limit 0` and the query would scan the whole table. Write "
    "`{{{{ ref('{alias}').<table> }}}}` (e.g. `{{{{ ref('{alias}').logs }}}}`), which --empty limits, "
    'or declare the dataset as a dbt source (schema: "{schema}") and use '
    "`{{{{ source(...) }}}}`."
)


@dataclass(frozen=True, eq=False, repr=False)
class AmpDatasetRelation(AmpRelation):
    """A whole Amp dataset, from a dependency alias: `{{ ref('eth') }}` renders `"ns/name@rev"`.

    `{{ ref('eth').logs }}` is the table relation `"ns/name@rev".logs`; with `--empty` that one
    renders as a limited subquery like any other ref. `{{ ref('eth') }}.logs` (the table appended
    as text) cannot be limited, so under `--empty` rendering the bare dataset is a compile error.
    """

    alias: str | None = None

    def __getattr__(self, name: str) -> AmpRelation:
        # Only for names that are not attributes of the relation (`logs`, `blocks`, ...); names
        # that look like probes for a flag or a method stay missing.
        if name.startswith(_NOT_TABLES) or not _TABLE_NAME.match(name):
            raise AttributeError(name)
        return AmpRelation.create(
            database=None, schema=self.schema, identifier=name, limit=self.limit
        )

    def __str__(self) -> str:
        if self.limit is not None:
            from dbt_common.exceptions import CompilationError

            raise CompilationError(
                EMPTY_ALIAS_MESSAGE.format(
                    alias=self.alias or "<alias>",
                    reference=self.render(),
                    schema=self.schema,
                )
            )
        return self.render()
