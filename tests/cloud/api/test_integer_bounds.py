"""Every integer the API takes (a path or query parameter, a field of a request body, nested
or not) has a maximum in its schema: a number past what the database column holds is a 422
naming the field, never an overflow in the driver (a 500 on SQLite and PostgreSQL alike)."""

from __future__ import annotations

from typing import Any

from tests.cloud.api.test_response_models import _app

MAX_INTEGER_COLUMN = 2**63 - 1  # the widest column any of them lands in (BIGINT)


def _integers(schema: Any, where: str, components: dict[str, Any], seen: set[str]) -> list:
    """(where, schema) for every integer schema reachable from ``schema``."""
    if not isinstance(schema, dict):
        return []
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return []
        seen.add(name)
        return _integers(components[name], name, components, seen)
    found = [(where, schema)] if schema.get("type") == "integer" else []
    for key in ("anyOf", "oneOf", "allOf"):
        for part in schema.get(key, []):
            found += _integers(part, where, components, seen)
    for name, part in (schema.get("properties") or {}).items():
        found += _integers(part, f"{where}.{name}", components, seen)
    found += _integers(schema.get("items"), f"{where}[]", components, seen)
    found += _integers(schema.get("additionalProperties"), f"{where}{{}}", components, seen)
    return found


def test_every_integer_the_api_takes_has_a_bound_the_database_can_hold():
    spec = _app().openapi()
    components = spec["components"]["schemas"]
    unbounded = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            taken = [
                (f"{p['in']} {p['name']}", p.get("schema")) for p in operation.get("parameters", [])
            ]
            for content in operation.get("requestBody", {}).get("content", {}).values():
                taken.append(("body", content.get("schema")))
            for label, schema in taken:
                for where, found in _integers(schema, label, components, set()):
                    if found.get("maximum", MAX_INTEGER_COLUMN + 1) > MAX_INTEGER_COLUMN:
                        unbounded.append(f"{method.upper()} {path}: {where}")
    assert unbounded == [], "\n".join(unbounded)
