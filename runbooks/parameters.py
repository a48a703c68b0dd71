"""Runbook parameters: a JSON Schema object, validated with jsonschema.

Parameters rendered from an alert arrive as strings; `coerce()` turns them
into the type the schema declares (boolean, integer, number, array, object)
before validation, so `{"type": "integer"}` works for both the API and a
binding's template. Templates print Python values: `{{ x == "y" }}` renders
"False" and `{{ labels.hosts.split(",") }}` renders "['a', 'b']", so those
forms are read too. A string parameter stays the string it rendered.
"""

import ast
import json
import math

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from core.errors import Refused
from runbooks.runners.process import param_env_name


class ParameterError(Refused, ValueError):
    """`problems` lists (parameter name or "", message) when known, so a form
    can show each message next to its field. Callers say which field of
    theirs the parameters are (the API's `parameters`, a gate's `fields`)."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__(message, problems=problems or [("", message)])


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
    """Convert string values to the declared type where they parse as it."""
    properties = schema.get("properties", {})
    out = dict(values)
    for name, value in values.items():
        declared = properties.get(name, {}).get("type") if isinstance(properties.get(name), dict) else None
        if not isinstance(value, str) or declared not in _PARSERS:
            continue
        parsed = _PARSERS[declared](value.strip())
        if parsed is not _UNPARSED:
            out[name] = parsed
    return out


_UNPARSED = object()
# A rendered list or object longer than this stays text (and fails the
# schema): ast.literal_eval's cost grows with its input.
MAX_LITERAL = 100_000


def _json(text: str):
    """JSON, without NaN or Infinity (no JSON column stores them)."""
    return json.loads(text, parse_constant=_refuse)


def _refuse(name):
    raise ValueError(f"{name} is not a JSON number")


def _boolean(text: str):
    return {"true": True, "false": False}.get(text.lower(), _UNPARSED)


def _integer(text: str):
    try:
        return int(text)
    except ValueError:
        number = _number(text)
        return int(number) if isinstance(number, float) and number.is_integer() else _UNPARSED


def _number(text: str):
    try:
        number = int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return _UNPARSED
    return number if math.isfinite(number) else _UNPARSED


def _container(kind: type):
    def parse(text: str):
        if len(text) > MAX_LITERAL:
            return _UNPARSED
        for read in (_json, ast.literal_eval):
            try:
                value = read(text)
            except Exception:  # a literal that does not parse (or is too deep) is not one
                continue
            if isinstance(value, kind) and _plain(value):
                return value
        return _UNPARSED

    return parse


def _plain(value, depth: int = 0) -> bool:
    """Whether a literal holds only what JSON holds (no tuple, set, bytes,
    complex, NaN), so that it can be stored and handed to the runbook."""
    if depth > 64:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))


_PARSERS = {
    "boolean": _boolean,
    "integer": _integer,
    "number": _number,
    "array": _container(list),
    "object": _container(dict),
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
