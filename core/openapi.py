"""Additions to the OpenAPI schema that drf-spectacular cannot infer: the
error answers every operation may give, in Steward's one error shape."""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True},
    },
    "required": ["detail"],
}
_DESCRIPTIONS = {
    "400": "The request is invalid; `errors` names the fields.",
    "401": "No valid API token or session.",
    "403": "Your role may not do this.",
    "404": "No such object.",
    "405": "This method is not allowed here.",
    "409": "The object's state does not allow this now, or its name is taken.",
    "414": "The request line is too long (the web server's limit).",
    "429": "Too many requests.",
    "503": "The database is unavailable; retry later.",
}
_METHODS = {"get", "put", "patch", "post", "delete"}

# Rules the validation enforces across fields, which drf-spectacular cannot
# see in a serializer (tests/api/test_schema.py checks each is in place).
COMPONENT_RULES = {
    # events.api.test_document: an inline event or a stored one's id, not both.
    "BindingTestRequestRequest": {"oneOf": [{"required": ["event"]}, {"required": ["event_id"]}]},
}


def add_component_rules(result, generator, request, public):
    """COMPONENT_RULES, and no unknown field in a request body (core.drf
    refuses them; a body documented as a free object keeps its freedom)."""
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request") and "properties" in schema:
            schema.setdefault("additionalProperties", False)
    for name, rules in COMPONENT_RULES.items():
        if name in schemas:
            schemas[name].update(rules)
    return result


def add_error_responses(result, generator, request, public):
    """Document the 4xx/503 answers on every operation (unless it already
    says what one of them holds)."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        has_id = "{" in path
        for method, operation in operations.items():
            if method not in _METHODS:
                continue
            codes = ["401", "403", "405", "503"]
            if method in ("post", "put", "patch") or method == "get":
                codes.append("400")  # a bad query parameter or body
            if has_id or method == "get":
                codes.append("404")  # lists too: an invalid ?cursor= is DRF's 404
            if method == "get":
                codes.append("414")
            if method == "post":
                codes += ["409", "429"]
            elif method in ("put", "patch"):
                codes.append("409")  # a name or slug another object has
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(
                    code,
                    {"description": _DESCRIPTIONS[code], "content": {"application/json": {"schema": reference}}},
                )
    return result
