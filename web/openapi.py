"""What the JSON API's OpenAPI document (/api/v1/openapi.json) promises, declared once for every operation.

- The error envelope every error answers with (`{"error": {"code", "message", "status"}}`, plus `fields`
  on a request the schema refuses): `ErrorSchema`, the `default` response and every declared error status.
- Error statuses with the headers they carry (`Retry-After` on 429 and 503): `errors(...)`.
- Rules request schemas share, stated so that the document refuses what the server refuses: `text(...)`
  (a value with at least one visible character), `SettingLength` (a limit that is an app setting).
- Schema-level rules a field cannot carry (`anyOf`), through `openapi_extra` on a schema class.

The tests in tests/api run schemathesis over the document and the app: any gap between the two fails them.
"""

from __future__ import annotations

import http
from collections.abc import Callable, Mapping
from typing import Any

import marshmallow as ma
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.openapi import OpenAPIConverter
from flask import current_app
from flask_smorest import Api, Blueprint
from flask_smorest.utils import prepare_response

# Characters that do not make a value: whitespace and control characters as Python's str.strip() and the
# searcher's clean_query() see them, spelled out so that every regex dialect (Python, ECMA-262, Rust) reads
# the class the same way (their `\s` differ).
BLANK = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# Anchored, so that it means the same under re.match (marshmallow) and an unanchored search (JSON Schema).
HAS_TEXT = rf"^[{BLANK}]*[^{BLANK}]"

# Seconds a client should wait before retrying, when the error does not say (a 503 of a busy store).
DEFAULT_RETRY_AFTER = 30

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
# Statuses whose response carries headers the document declares (the rest: the envelope alone).
ERROR_HEADERS: dict[int, dict[str, Any]] = {429: RETRY_AFTER, 503: RETRY_AFTER}


class ErrorBodySchema(ma.Schema):
    code = ma.fields.String(
        required=True,
        metadata={
            "description": "Stable, machine-readable: `not_found`, `invalid_query`, `unprocessable_entity`…"
        },
    )
    message = ma.fields.String(required=True, metadata={"description": "For a person, in English."})
    status = ma.fields.Integer(
        required=True, validate=ma.validate.Range(400, 599), metadata={"description": "The HTTP status."}
    )
    refused = ma.fields.Dict(  # answered as `fields` (a Schema's own attribute name)
        data_key="fields",
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={
            "description": "On a request the document refuses (422): what is wrong with each field, by name "
            "(`_schema`: the request as a whole)."
        },
    )


class ErrorSchema(ma.Schema):
    """Every error of the API, whatever its status."""

    error = ma.fields.Nested(ErrorBodySchema, required=True)


class Converter(OpenAPIConverter):
    """apispec's converter, adding a schema class's `openapi_extra` (keywords a field cannot carry)."""

    def schema2jsonschema(self, schema: Any) -> dict[str, Any]:
        jsonschema: dict[str, Any] = super().schema2jsonschema(schema)
        extra = getattr(schema, "openapi_extra", None)
        if extra:
            jsonschema.update(extra)
        return jsonschema


class Plugin(MarshmallowPlugin):
    Converter = Converter


class KBApi(Api):
    """flask-smorest's Api answering errors with the kb-engine envelope; 429 and 503 carry Retry-After."""

    ERROR_SCHEMA = ErrorSchema

    def __init__(self, app: Any) -> None:
        super().__init__(app, spec_kwargs={"marshmallow_plugin": Plugin()})

    def _register_responses(self) -> None:
        super()._register_responses()
        for status, headers in ERROR_HEADERS.items():
            name = http.HTTPStatus(status).name
            response: dict[str, Any] = {
                "description": http.HTTPStatus(status).phrase,
                "schema": self.ERROR_SCHEMA,
                "headers": headers,
            }
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            # Lazy again: replaces the default flask-smorest registered under the same name.
            self.spec.components.response(name, response, lazy=True)


def path_parameter(name: str, pattern: str, description: str, example: str | None = None) -> dict[str, Any]:
    """A path parameter with the pattern the server holds it to (flask-smorest documents a bare string)."""
    parameter: dict[str, Any] = {
        "in": "path",
        "name": name,
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
        "description": description,
    }
    if example is not None:
        parameter["example"] = example
    return parameter


def link(
    operation: str, description: str, body: dict[str, str] | None = None, **parameters: str
) -> dict[str, Any]:
    """An OpenAPI link to `operation`: its parameters (and body fields) from runtime expressions."""
    found: dict[str, Any] = {"operationId": operation, "parameters": parameters, "description": description}
    if body:
        found["requestBody"] = body
    return found


def errors(blp: Blueprint, *statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declares the error statuses an operation answers (each with the envelope and its headers).

    Any other error still has the envelope: every operation's `default` response is the same schema.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        for status in statuses:
            view = blp.alt_response(status, response=http.HTTPStatus(status).name)(view)
        return view

    return decorate


class SettingLength(ma.validate.Length):
    """A length whose maximum is an app setting (capped by `cap`), read when a request is validated and when
    the app builds its document, so that both say the same limit."""

    def __init__(self, setting: str, *, min: int = 1, cap: int | None = None) -> None:
        self.setting = setting
        self.cap = cap
        self.min = min
        self.equal = None
        self.error = None

    @property
    def max(self) -> int:  # type: ignore[override]
        limit = int(current_app.config[self.setting])
        return min(limit, self.cap) if self.cap is not None else limit


class Pattern(ma.validate.Regexp):
    """The whole value matches `regex`, as JSON Schema's anchored patterns mean: Python's `$` also matches
    before a final newline, which ECMA-262's does not."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ma.ValidationError(self._format_error(value))
        return value


# Latin-1 letters (accented names) without × and ÷.
_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff"
_ATOM = rf"[{_LATIN}0-9!#$%&'*+/=?^_`{{|}}~-]+"
_LABEL = rf"[{_LATIN}0-9](?:[{_LATIN}0-9-]{{0,61}}[{_LATIN}0-9])?"
# An email address the document can state and every marshmallow Email accepts (the ticket service's check):
# dot-atom local part, dotted domain ending in letters. Stricter than the service (no quoted local parts,
# IP literals or bare `localhost`), so that what the document accepts is never refused.
EMAIL = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[{_LATIN}]{{2,63}}$"


def text(*, limit: ma.validate.Validator | int, **kwargs: Any) -> ma.fields.String:
    """A string field that needs at least one visible character, within `limit` (characters, or a
    validator)."""
    length = limit if isinstance(limit, ma.validate.Validator) else ma.validate.Length(min=1, max=limit)
    has_text = ma.validate.Regexp(HAS_TEXT, error="give some text, not only spaces")
    return ma.fields.String(validate=[length, has_text], **kwargs)


def field_messages(messages: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """webargs' validation messages ({location: {field: [...]}}) as {field: [...]}, nested names dotted."""
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(field_messages(value, f"{name}."))
        else:
            flat[name] = [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]
    return flat


def validation_error(data: Mapping[str, Any] | None) -> tuple[str, dict[str, list[str]]] | None:
    """(message, fields) of a request the API's schemas refused (flask-smorest's 422), else None."""
    messages = (data or {}).get("messages")
    if not isinstance(messages, Mapping):
        return None
    fields: dict[str, list[str]] = {}
    for location in messages.values():  # json, query, path...: one per operation here
        if isinstance(location, Mapping):
            fields.update(field_messages(location))
    summary = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in fields.items())
    return f"invalid request: {summary}" if summary else "invalid request", fields
