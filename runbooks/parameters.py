"""Runbook parameters: a JSON Schema object, validated with jsonschema.

Parameters rendered from an alert arrive as strings; `coerce()` turns them
into the declared number or boolean before validation, so a schema saying
`{"type": "integer"}` works for both the API and a binding's template.
"""

import json

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from runbooks.runners.process import param_env_name


class ParameterError(ValueError):
    """`problems` lists (parameter name or "", message) when known, so a form
    can show each message next to its field."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or [("", message)]


def check_schema(schema) -> None:
    """Raise ParameterError unless `schema` is a usable parameters schema."""
    if not isinstance(schema, dict):
        raise ParameterError("parameters must be a JSON Schema object")
    if schema and schema.get("type", "object") != "object":
        raise ParameterError('parameters schema must have "type": "object"')
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ParameterError(f"invalid JSON Schema: {exc.message}") from None
    seen: dict[str, str] = {}
    for name in schema.get("properties", {}):
        env_name = param_env_name(name)
        if env_name in seen:
            raise ParameterError(f"parameters {seen[env_name]!r} and {name!r} both become {env_name}")
        seen[env_name] = name


def coerce(schema: dict, values: dict) -> dict:
    """Convert string values to the declared scalar type where it parses."""
    properties = schema.get("properties", {})
    out = dict(values)
    for name, value in values.items():
        declared = properties.get(name, {}).get("type") if isinstance(properties.get(name), dict) else None
        if not isinstance(value, str) or declared not in ("integer", "number", "boolean"):
            continue
        try:
            parsed = json.loads(value)
        except ValueError:
            continue
        if _SCALAR_CHECKS[declared](parsed):
            out[name] = parsed
    return out


_SCALAR_CHECKS = {
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


def defaults(schema: dict) -> dict:
    return {
        name: prop["default"]
        for name, prop in schema.get("properties", {}).items()
        if isinstance(prop, dict) and "default" in prop
    }


def problems(schema: dict, values: dict) -> list[tuple[str, str]]:
    """(parameter name or "", message) for each way `values` fails `schema`."""
    found = []
    for error in sorted(Draft202012Validator(schema).iter_errors(values), key=lambda e: list(e.absolute_path)):
        path = [str(p) for p in error.absolute_path]
        name = path[0] if path else ""
        if not name and error.validator == "required" and isinstance(error.instance, dict):
            name = next((n for n in error.validator_value if n not in error.instance), "")
        where = ".".join(path)
        found.append((name, f"{where}: {error.message}" if where else error.message))
    return found


def validate(schema: dict, values) -> dict:
    """Return the parameters to run with (defaults filled in), or raise."""
    if not isinstance(values, dict):
        raise ParameterError("parameters must be a JSON object")
    values = {**defaults(schema), **coerce(schema, values)}
    found = problems(schema, values)
    if found:
        raise ParameterError("; ".join(message for _, message in found[:5]), found)
    return values
