"""JSON request bodies: too deep or malformed is a 400 everywhere (pages' beacons and the API alike).

Python's parser recurses once per nesting level: a body of a few thousand `[` raises RecursionError, which
neither Flask nor webargs treat as bad JSON (a 500). Here both read JSON through one provider that turns
it, and anything nested deeper than MAX_JSON_DEPTH, into a ValueError, which they answer with 400.
"""

from __future__ import annotations

import json
from typing import Any

import flask_smorest
from flask import current_app
from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

MAX_JSON_DEPTH = 32


class BoundedJSONProvider(DefaultJSONProvider):
    """Request bodies nested deeper than MAX_JSON_DEPTH (or so deep the parser recurses out) are malformed
    JSON: a ValueError, which Flask answers with 400 wherever JSON is read."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if _depth(value) > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        return value


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON, without recursion (the value may be thousands of levels deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            items: Any = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in items)
    return deepest


class BoundedFlaskParser(FlaskParser):
    """webargs' parser reading JSON bodies through the app's BoundedJSONProvider."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        data = req.get_data(cache=True)
        try:
            return current_app.json.loads(data)
        except json.JSONDecodeError as exc:
            if exc.doc == "":
                return core.missing
            return self._handle_invalid_json_error(exc, req)
        except ValueError as exc:  # too deep, or not UTF-8
            # webargs answers the same 400 for any decoding error; it only reads the message.
            return self._handle_invalid_json_error(exc, req)  # type: ignore[arg-type]


class Blueprint(flask_smorest.Blueprint):
    """The API's blueprints: flask-smorest's, with the bounded JSON parser."""

    ARGUMENTS_PARSER = BoundedFlaskParser()
