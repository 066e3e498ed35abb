"""The client address behind a proxy comes from the trusted proxy only (`KB_TRUSTED_PROXIES`); HSTS when
the site is HTTPS (`KB_SESSION_COOKIE_SECURE`) or `KB_HSTS`."""

from __future__ import annotations

from typing import Any

import pytest
from flask import request


@pytest.fixture()
def make_app(make_app):
    """Apps with a route that says what address and scheme the app sees."""

    def make(**config: Any) -> Any:
        app = make_app(**config)

        @app.get("/whoami-for-test")
        def whoami():
            return {"address": request.remote_addr, "scheme": request.scheme}

        return app

    return make


def _whoami(app: Any, peer: str, **headers: str) -> dict[str, str]:
    response = app.test_client().get("/whoami-for-test", headers=headers, environ_base={"REMOTE_ADDR": peer})
    return response.get_json()


SPOOF = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


def test_forwarded_headers_are_ignored_without_trusted_proxies(make_app) -> None:
    assert _whoami(make_app(), "198.51.100.7", **SPOOF) == {"address": "198.51.100.7", "scheme": "http"}


def test_forwarded_headers_are_ignored_from_a_client_that_is_not_a_trusted_proxy(make_app) -> None:
    app = make_app(TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8")
    assert _whoami(app, "198.51.100.7", **SPOOF) == {"address": "198.51.100.7", "scheme": "http"}


def test_the_trusted_proxy_gives_the_client_address_it_saw(make_app) -> None:
    app = make_app(TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8")
    assert _whoami(app, "10.1.2.3", **SPOOF) == {"address": "203.0.113.9", "scheme": "https"}
    # A chain: only the last hop (the one the proxy itself saw) is believed, not what the client prepended.
    chain = {"X-Forwarded-For": "192.0.2.1, 203.0.113.9"}
    assert _whoami(app, "127.0.0.1", **chain)["address"] == "203.0.113.9"


def test_a_bad_trusted_proxies_setting_is_refused_with_its_name(make_app) -> None:
    from kb_engine.errors import ConfigError

    with pytest.raises(ConfigError, match="KB_TRUSTED_PROXIES"):
        make_app(TRUSTED_PROXIES="localhost-ish")


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, False),
        ({"SESSION_COOKIE_SECURE": True}, True),
        ({"HSTS": True}, True),
        ({"SESSION_COOKIE_SECURE": True, "HSTS": False}, False),
    ],
)
def test_hsts_when_the_site_is_https(make_app, config: dict[str, Any], expected: bool) -> None:
    app = make_app(**config)
    for path in ("/", "/healthz", "/no-such-page", "/static/app.css"):
        response = app.test_client().get(path)
        response.close()
        hsts = response.headers.get("Strict-Transport-Security")
        assert (hsts == "max-age=31536000; includeSubDomains") if expected else hsts is None, (path, hsts)
