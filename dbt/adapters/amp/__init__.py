"""dbt's entry point for `type: amp`: `Plugin`, which dbt's `load_plugin` reads.

It is built on first access, so importing one module of the package (the monitor reads
`state.py`, `admin.py`) does not load dbt's adapter machinery: amp-dbt-monitor starts in a fraction
of the time. The dbt-core hooks are installed when dbt creates the adapter (AmpAdapter.__init__),
before it parses a project.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name != "Plugin":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from dbt.adapters.base import AdapterPlugin

    from dbt.adapters.amp.connections import AmpConnectionManager  # noqa: F401
    from dbt.adapters.amp.credentials import AmpCredentials
    from dbt.adapters.amp.impl import AmpAdapter
    from dbt.include import amp

    plugin = AdapterPlugin(
        adapter=AmpAdapter,
        credentials=AmpCredentials,
        include_path=amp.PACKAGE_PATH,
    )
    globals()["Plugin"] = plugin
    return plugin
