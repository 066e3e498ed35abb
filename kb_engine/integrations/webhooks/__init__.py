"""Signed webhooks: admins declare endpoints (URL, secret, events); each event becomes an outbox row of
channel `webhook` in the transaction of the change (`events.py`), delivered by the outbox's own claim,
retry and back-off code, in order per ticket and endpoint (`delivery.py`), signed with HMAC-SHA256 over a
timestamp and the body (`signing.py`). See README "Webhooks"."""

from kb_engine.integrations.webhooks.endpoints import (
    EVENTS,
    add_endpoint,
    check_url,
    deliveries,
    list_endpoints,
    remove_endpoint,
    send_again,
)
from kb_engine.integrations.webhooks.events import install
from kb_engine.integrations.webhooks.signing import SIGNATURE_HEADER, sign, verify

__all__ = [
    "EVENTS",
    "SIGNATURE_HEADER",
    "add_endpoint",
    "check_url",
    "deliveries",
    "install",
    "list_endpoints",
    "remove_endpoint",
    "send_again",
    "sign",
    "verify",
]
