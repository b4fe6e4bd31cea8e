"""The published Canton JSON Ledger API specifications, as JSON Schema validators.

``../shared/specs/canton-json-ledger-api/`` holds the OpenAPI files of Canton 3.4.11
and 3.5.10 and the AsyncAPI file of 3.4.11 (Apache-2.0, digital-asset/canton). Their
schemas are OpenAPI 3.0 / AsyncAPI 2.6 flavoured JSON Schema; ``$ref`` s point into
``#/components/...`` and are resolved against the whole document.

``strict=True`` additionally forbids properties a schema does not declare (OpenAPI
allows them by default): what tanpo *builds* (requests, the loopback server's answers)
must use only declared field names, so a misspelt ``commandID`` fails instead of being
silently ignored by a participant. Answers of a real participant are checked leniently.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest

from valuation.paths import shared_dir

OPENAPI_VERSIONS = ("3.4.11", "3.5.10")
ASYNCAPI_VERSIONS = ("3.4.11",)


def spec_dir() -> Path | None:
    """``<shared>/specs/canton-json-ledger-api``, or ``None`` where absent."""
    root = shared_dir()
    if root is None:
        return None
    path = root / "specs" / "canton-json-ledger-api"
    return path if (path / "openapi-3.5.10.yaml").is_file() else None


def require_specs() -> Path:
    """The spec folder, or skip the test with the reason."""
    path = spec_dir()
    if path is None:
        pytest.skip(
            "Canton JSON Ledger API specs not found in ../shared/specs/canton-json-ledger-api"
            " (set TANPO_SHARED_DIR)"
        )
    return path


@functools.cache
def _document(name: str) -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    path = require_specs() / name
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def _forbid_undeclared(node: Any) -> Any:
    """A copy of a schema tree where every object schema with ``properties`` is closed."""
    if isinstance(node, dict):
        out = {k: _forbid_undeclared(v) for k, v in node.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_forbid_undeclared(v) for v in node]
    return node


class Spec:
    """One specification file, validating instances against its components."""

    def __init__(self, name: str, *, strict: bool) -> None:
        jsonschema = pytest.importorskip("jsonschema")
        referencing = pytest.importorskip("referencing")
        from referencing.jsonschema import DRAFT7

        self.name = name
        document = _document(name)
        if strict:
            document = copy.deepcopy(document)
            document["components"] = _forbid_undeclared(document["components"])
        self.document = document
        uri = f"urn:canton:{name}"
        self._uri = uri
        resource = referencing.Resource(contents=document, specification=DRAFT7)
        self._registry = referencing.Registry().with_resource(uri, resource)
        self._validator_class = jsonschema.Draft7Validator
        self._cache: dict[str, Any] = {}

    def _validator(self, pointer: str) -> Any:
        if pointer not in self._cache:
            schema = {"$ref": f"{self._uri}#{pointer}"}
            self._cache[pointer] = self._validator_class(schema, registry=self._registry)
        return self._cache[pointer]

    def errors(self, pointer: str, instance: Any) -> list[str]:
        """Every violation of the schema at JSON pointer ``pointer`` (empty: valid)."""
        found = sorted(self._validator(pointer).iter_errors(instance), key=lambda e: e.path)
        return [f"{self.name} {pointer} at {list(e.absolute_path)}: {e.message}" for e in found]

    def component_errors(self, component: str, instance: Any) -> list[str]:
        """Violations of ``#/components/schemas/<component>``."""
        return self.errors(f"/components/schemas/{component}", instance)

    # --- OpenAPI ----------------------------------------------------------------------

    def has(self, path: str, method: str) -> bool:
        return method.lower() in self.document.get("paths", {}).get(path, {})

    def _operation(self, path: str, method: str) -> dict[str, Any]:
        operation: dict[str, Any] = self.document["paths"][path][method.lower()]
        return operation

    def request_errors(self, path: str, method: str, body: Any) -> list[str]:
        """Violations of the operation's JSON request body schema."""
        operation = self._operation(path, method)
        if "requestBody" not in operation:
            return [] if body is None else [f"{method} {path} takes no body"]
        return self.errors(
            _pointer(
                "paths",
                path,
                method.lower(),
                "requestBody",
                "content",
                "application/json",
                "schema",
            ),
            body,
        )

    def response_errors(
        self, path: str, method: str, status: int, body: Any, content_type: str
    ) -> list[str]:
        """Violations of the declared response for ``status`` (else ``default``).

        The specs are generated by tapir: ``400`` is declared as ``text/plain`` (a body
        that failed to decode), while every Canton error, whatever its status (an
        ``INVALID_ARGUMENT`` is 400 too), is the ``default`` response, a
        ``JsCantonError``. So a JSON body under a status declared only as text is
        checked against ``default``.
        """
        responses = self._operation(path, method)["responses"]
        media = "text/plain" if content_type.startswith("text/plain") else "application/json"
        key = str(status)
        if key not in responses or media not in responses[key].get("content", {}):
            key = "default"
        if key not in responses:
            return [f"{method} {path}: status {status} is not declared"]
        content = responses[key]["content"]
        if media not in content:
            return [f"{method} {path} {status}: {media} is not declared ({sorted(content)})"]
        return self.errors(
            _pointer("paths", path, method.lower(), "responses", key, "content", media, "schema"),
            body,
        )

    # --- AsyncAPI ---------------------------------------------------------------------

    def message_errors(self, channel: str, direction: str, instance: Any) -> list[str]:
        """Violations of a channel's ``publish`` (request) or ``subscribe`` (answer) message."""
        ref = self.document["channels"][channel][direction]["message"]["$ref"]
        message = ref.removeprefix("#/components/messages/")
        return self.errors(_pointer("components", "messages", message, "payload"), instance)


def _pointer(*parts: str) -> str:
    """A JSON pointer (RFC 6901) from unescaped parts."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


@functools.cache
def openapi(version: str, *, strict: bool = True) -> Spec:
    """The OpenAPI spec of ``version`` (3.4.11 or 3.5.10)."""
    return Spec(f"openapi-{version}.yaml", strict=strict)


@functools.cache
def asyncapi(version: str, *, strict: bool = True) -> Spec:
    """The AsyncAPI spec of ``version`` (3.4.11)."""
    return Spec(f"asyncapi-{version}.yaml", strict=strict)
