"""Starting amp_local's HTTP servers (Admin API, JSON Lines): bound once, served from a daemon
thread, with one clear message when the port cannot be bound."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve_http(
    handler: type[BaseHTTPRequestHandler], host: str, port: int, what: str, port_option: str
) -> tuple[ThreadingHTTPServer, int]:
    """Serve `handler` on host:port in a daemon thread; returns the server and the bound port.
    `what` names the server and `port_option` the option that moves it in the bind error."""
    try:
        server = ThreadingHTTPServer((host.strip("[]"), port), handler)
    except OSError as exc:
        raise OSError(
            f"could not bind the {what} server to {host}:{port}: {exc.strerror}; choose another "
            f"{port_option} (0 picks a free one)"
        ) from None
    server.daemon_threads = True
    name = f"amp-{port_option.removeprefix('--').removesuffix('-port')}"
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server, server.server_address[1]
