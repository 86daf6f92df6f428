from dbt.adapters.base import AdapterPlugin

from dbt.adapters.amp.connections import AmpConnectionManager  # noqa: F401
from dbt.adapters.amp.credentials import AmpCredentials
from dbt.adapters.amp.dependencies import install_parser_hook
from dbt.adapters.amp.impl import AmpAdapter
from dbt.include import amp

install_parser_hook()

Plugin = AdapterPlugin(
    adapter=AmpAdapter,
    credentials=AmpCredentials,
    include_path=amp.PACKAGE_PATH,
)
