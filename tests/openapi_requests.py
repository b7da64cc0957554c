"""Checks a request against an OpenAPI 3.0 description (the trimmed provider
descriptions in tests/data/provider_apis/): its path matches an operation, the method is
one the path has, path and query parameters have their schemas' types and are all known,
and the JSON body validates against the operation's request body schema (jsonschema;
OpenAPI's ``nullable`` read as JSON Schema's ``null`` type)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import jsonschema

DESCRIPTIONS = Path(__file__).parent / "data" / "provider_apis"


def _schema(node: Any) -> Any:
    """OpenAPI 3.0 schema as JSON Schema: ``nullable: true`` adds ``null``."""
    if isinstance(node, list):
        return [_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _schema(v) for k, v in node.items() if k not in ("nullable", "format", "example")}
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _coerce(text: str, schema: dict[str, Any]) -> Any:
    kinds = [schema.get("type")] + [s.get("type") for s in schema.get("oneOf", [])]
    if "integer" in kinds and re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


class Description:
    def __init__(self, name: str, prefix: str = "") -> None:
        self.spec = json.loads((DESCRIPTIONS / name).read_text())
        self.prefix = prefix
        self._routes = [
            (re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(p)) + "$"), p)
            for p in self.spec["paths"]
        ]

    def _param(self, ref: dict[str, Any]) -> dict[str, Any]:
        if "$ref" in ref:
            name = ref["$ref"].rsplit("/", 1)[1]
            found: dict[str, Any] = self.spec["components"]["parameters"][name]
            return found
        return ref

    def problems(self, method: str, target: str, body: bytes) -> list[str]:
        """What is wrong with ``method target`` (path with query) and ``body``; [] if none."""
        parts = urlsplit(target)
        raw = parts.path.removeprefix(self.prefix)
        matched = [(p.match(raw), t) for p, t in self._routes]
        found_routes = [(m, t) for m, t in matched if m is not None]
        if not found_routes:
            return [f"no operation has the path {raw}"]
        match, template = found_routes[0]
        operation = self.spec["paths"][template].get(method.lower())
        if operation is None:
            return [f"{template} has no {method}"]
        found: list[str] = []
        params = [self._param(p) for p in operation.get("parameters", [])]
        names = re.findall(r"\{([^}]+)\}", template)
        for name, value in zip(names, match.groups(), strict=True):
            spec = next(p for p in params if p["name"] == name and p["in"] == "path")
            try:
                jsonschema.validate(
                    _coerce(unquote(value), spec["schema"]), _schema(spec["schema"])
                )
            except jsonschema.ValidationError as exc:
                found.append(f"path parameter {name}={value!r}: {exc.message}")
        query = {p["name"]: p for p in params if p["in"] == "query"}
        for name, value in parse_qsl(parts.query):
            if name not in query:
                found.append(f"unknown query parameter {name}")
                continue
            try:
                jsonschema.validate(
                    _coerce(value, query[name]["schema"]), _schema(query[name]["schema"])
                )
            except jsonschema.ValidationError as exc:
                found.append(f"query parameter {name}={value!r}: {exc.message}")
        request = operation.get("requestBody")
        if request is not None:
            if not body and request.get("required"):
                return [*found, "the request body is required"]
            schema = request["content"]["application/json"]["schema"]
            try:
                jsonschema.validate(json.loads(body), _schema(schema))
            except (jsonschema.ValidationError, ValueError) as exc:
                found.append(f"body: {getattr(exc, 'message', exc)}")
        elif body:
            found.append(f"{method} {template} takes no body")
        return found
