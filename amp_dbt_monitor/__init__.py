"""Companion monitor: Amp jobs and data freshness for dbt-amp projects, kept in SQLite.

`amp-dbt-monitor` (cli.py) is a thin layer: ingest.py reads dbt's artifacts, poll.py asks Amp's
Admin API and probe.py Flight, freshness.py judges, store.py keeps it all in `.amp-dbt/state.db`
(through dbt.adapters.amp.state), and views.py shows it.
"""
