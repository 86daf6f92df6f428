"""`Monitor`: the monitor as a Python API, what every CLI command calls.

One project, its state.db connection, and (only when a command needs Amp) the profile's
credentials, Admin API client and Flight probe, created once and reused (e.g. across `watch`
refreshes). Reading the stored state needs no profile and no network, and does not import the
adapter's connection machinery (that happens when a command first needs Amp).
"""

from __future__ import annotations

import sqlite3
from functools import cached_property
from typing import TYPE_CHECKING

from amp_dbt_monitor import store
from amp_dbt_monitor.errors import ConfigError, MonitorError
from amp_dbt_monitor.ingest import IngestSummary, ingest
from amp_dbt_monitor.project import ProfileOptions, Project, admin_client, load_credentials

if TYPE_CHECKING:
    from amp_dbt_monitor.poll import Poller, PollResult
    from dbt.adapters.amp.admin import AdminClient
    from dbt.adapters.amp.credentials import AmpCredentials, TransportSettings


class Monitor:
    def __init__(self, project: Project, options: ProfileOptions | None = None) -> None:
        self.project = project
        self.options = options or ProfileOptions()
        self._poller: Poller | None = None

    @cached_property
    def conn(self) -> sqlite3.Connection:
        from dbt.adapters.amp.state import StateError, connect

        try:
            return connect(self.project.state_path)
        except StateError as exc:
            raise MonitorError(exc.msg) from None

    @cached_property
    def credentials(self) -> AmpCredentials:
        return load_credentials(self.project, self.options)

    @cached_property
    def token(self) -> str | None:
        """Resolved once per monitor (it may read or refresh the Amp CLI login); never stored."""
        return self.settings.token

    @cached_property
    def settings(self) -> TransportSettings:
        from dbt.adapters.amp.auth import AmpLoginError

        try:
            return self.credentials.transport()
        except AmpLoginError as exc:
            raise ConfigError(str(getattr(exc, "msg", exc))) from None

    def admin(self) -> AdminClient:
        """A new Admin API client (the caller closes it)."""
        return admin_client(self.credentials, self.token)

    def ingest(self, force: bool = False) -> IngestSummary:
        return ingest(self.conn, self.project.manifest_path, self.project.run_results_path, force)

    def poll(self) -> PollResult:
        from amp_dbt_monitor.poll import Poller
        from amp_dbt_monitor.probe import FlightProbe

        if self._poller is None:
            admin = self.admin() if self.credentials.admin_url else None
            self._poller = Poller(admin, FlightProbe(self.credentials, self.settings))
        return self._poller.poll(self.conn)

    def statuses(self, include_untracked: bool = False) -> list[store.ModelStatus]:
        return store.statuses(self.conn, include_untracked)

    def last_poll(self, reached_amp: bool = False) -> store.PollOutcome | None:
        return store.last_poll(self.conn, reached_amp)

    def poll_outcomes(self) -> tuple[store.PollOutcome | None, store.PollOutcome | None]:
        """(the newest poll, the newest poll that reached Amp)."""
        return self.last_poll(), self.last_poll(True)

    def close(self) -> None:
        if self._poller is not None:
            self._poller.close()
            self._poller = None
        if "conn" in self.__dict__:
            self.conn.close()
            del self.__dict__["conn"]

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
