"""The monitor's errors: each is a problem the user can fix, and its message says what, where
and how. The CLI prints the message alone (no traceback) and exits with code 1.

    MonitorError
    ├── ArtifactError    a dbt artifact is missing, unreadable, or not what dbt 1.11 writes
    └── ConfigError      a project, profile or model setting the monitor cannot use
"""

from __future__ import annotations


class MonitorError(Exception):
    """A problem the user can fix."""


class ArtifactError(MonitorError):
    """target/manifest.json or target/run_results.json cannot be used."""


class ConfigError(MonitorError):
    """A project, profile or model setting the monitor cannot use."""
