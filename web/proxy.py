"""The client's address behind a reverse proxy, from the proxy alone (`KB_TRUSTED_PROXIES`).

Werkzeug's `ProxyFix` takes `X-Forwarded-For` / `X-Forwarded-Proto` on trust; here it is applied only to a
request whose peer (the TCP connection's address) is one of the trusted proxies. A client that reaches the
app directly, whatever headers it sends, keeps its own address: the login and ticket limits count it.
nginx (deploy/nginx.conf) replaces `X-Forwarded-For` with the address it saw, so one hop is read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix


class TrustedProxyFix:
    """WSGI middleware: `ProxyFix(x_for=1, x_proto=1)` for requests from `networks`, nothing for others."""

    def __init__(self, app: Any, networks: Iterable[str]) -> None:
        self.app = app
        self.fixed = ProxyFix(app, x_for=1, x_proto=1)
        self.networks = [ipaddress.ip_network(n, strict=False) for n in networks]

    def trusted(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.trusted(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)
