"""Flight reads for the monitor: the chain head, and how far each model's data reaches.

Every Amp query result carries the block ranges it covers: per network, the end block of the
synced data the query read and that block's timestamp (PROTOCOL §1.6, `app_metadata`). So one small
aggregate query per chain table gives the chain head, and one per model gives the block its data
is complete through, both in Amp's own block time. The adapter's transport (dbt.adapters.amp.transport)
sends them, with the adapter's transport settings (token, headers, TLS, timeout).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dbt.adapters.exceptions import FailedToConnectError

from amp_dbt_monitor.errors import ConfigError
from amp_dbt_monitor.freshness import BlockMark
from dbt.adapters.amp.connections import AmpAuthError, translate_error
from dbt.adapters.amp.credentials import AmpCredentials, TransportSettings
from dbt.adapters.amp.flight import QueryResult
from dbt.adapters.amp.server_errors import AmpServerError
from dbt.adapters.amp.transport import AmpTransport

PROBE_ALIAS = "amp_monitor_probe"
# Amp's words for a table no job has written yet (PROTOCOL §8.3): "no data", not an error.
NOT_SYNCED = "has not been synced"


class FlightUnreachable(Exception):
    """Amp's Flight endpoint did not answer; the message says where and why."""


@dataclass(frozen=True)
class Probe:
    """What one model's probe query found."""

    marks: list[BlockMark] = field(default_factory=list)  # synced end per network
    starts: dict[str, int] = field(default_factory=dict)  # synced start per network
    max_value: int | None = None  # max(track_column)
    row_count: int | None = None
    error: str | None = None  # Amp refused or failed the query
    not_synced: bool = False  # no job has written the table yet


def message_of(error: BaseException) -> str:
    """A dbt exception's message without dbt's "Database Error" header."""
    return str(getattr(error, "msg", None) or error).strip()


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_sql(reference: str, table: str) -> str:
    """`"ns/name@rev".table`, as the adapter renders dataset tables."""
    return f'"{reference}".{table}'


def head_sql(reference: str, table: str) -> str:
    return f"SELECT max(_block_num) AS head FROM {table_sql(reference, table)}"


def model_sql(relation: str, column: str) -> str:
    return (
        f"SELECT max({quote_identifier(column)}) AS latest, count(*) AS row_count FROM {relation}"
    )


def marks_of(result: QueryResult) -> tuple[list[BlockMark], dict[str, int]]:
    """(end of the synced range per network with its timestamp, start per network)."""
    ends: dict[str, BlockMark] = {}
    starts: dict[str, int] = {}
    for r in result.block_ranges:
        try:
            network, start, end = (
                r["network"],
                int(r["numbers"]["start"]),
                int(r["numbers"]["end"]),
            )
        except (KeyError, TypeError, ValueError):
            continue
        stamp = r.get("timestamp")
        ends[network] = BlockMark(network, end, None if stamp is None else int(stamp))
        starts[network] = start
    return sorted(ends.values(), key=lambda m: m.network), starts


class FlightProbe:
    """One Flight client for the monitor's queries (thread-safe: probes run in parallel)."""

    def __init__(self, credentials: AmpCredentials, settings: TransportSettings) -> None:
        self.credentials = credentials
        self.transport = AmpTransport(credentials, settings)

    def close(self) -> None:
        self.transport.close()

    def _run(self, sql: str) -> tuple[list, QueryResult]:
        """Rows and ranges; Amp's refusals come back as DbtDatabaseError, an unreachable server as
        FlightUnreachable, a refused token as ConfigError."""
        try:
            table, result = self.transport.fetch_query(sql)
        except AmpServerError as exc:
            error = translate_error(exc, self.credentials)
            if isinstance(error, AmpAuthError):
                raise ConfigError(message_of(error)) from None
            if isinstance(error, FailedToConnectError):
                raise FlightUnreachable(message_of(error)) from None
            raise error from None
        return table.to_pylist(), result

    def head(self, reference: str, table: str) -> list[BlockMark]:
        """The synced end (and its timestamp) of one chain table, per network."""
        _, result = self._run(head_sql(reference, table))
        return marks_of(result)[0]

    def model(self, relation: str, column: str) -> Probe:
        """How far `relation` (a dataset table or a model's SQL in parentheses) reaches."""
        from dbt_common.exceptions import DbtRuntimeError

        try:
            rows, result = self._run(model_sql(relation, column))
        except DbtRuntimeError as exc:
            message = message_of(exc)
            return Probe(error=message, not_synced=NOT_SYNCED in message)
        marks, starts = marks_of(result)
        row = rows[0] if rows else {}
        return Probe(marks, starts, _int(row.get("latest")), _int(row.get("row_count")))


def _int(value: object) -> int | None:
    try:
        return None if value is None else int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None
