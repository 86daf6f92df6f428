"""Relations render without a database part: `"_/eth_firehose@1.0.0".logs`."""

from __future__ import annotations

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
