"""Binding conditions: `{"path", "op", "value"}`, all of which must hold,
plus `{"any": [conditions]}` groups of which one must hold."""

import fnmatch
from functools import lru_cache

import re2

from core import storable
from events import paths


class ConditionError(ValueError):
    pass


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _compare(check):
    def op(actual, expected):
        a, b = _number(actual), _number(expected)
        return a is not None and b is not None and check(a, b)

    return op


# Longer patterns than this are refused at save: nobody writes one by hand.
MAX_PATTERN = 1000


@lru_cache(maxsize=1024)
def _regex(pattern: str, ignore_case: bool = False):
    """The compiled pattern, once per process. RE2 matches in time linear in
    the text whatever the pattern: Python's backtracking `re` let one binding
    (`^(a+)+$`) and a 29-character label freeze the web tier. RE2 refuses what
    it cannot match that way (backreferences, lookarounds): ConditionError."""
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False  # a refused pattern is the caller's 400, not a log line
    try:
        return re2.compile(pattern, options)
    except UnicodeEncodeError:
        raise ConditionError("invalid regex: it is not valid Unicode text") from None
    except re2.error as exc:
        message = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ConditionError(f"invalid regex (RE2 syntax, no backreferences or lookarounds): {message}") from None


def _search(pattern: str, actual, ignore_case: bool = False) -> bool:
    try:
        return _regex(pattern, ignore_case).search(_text(actual)) is not None
    except (ConditionError, UnicodeEncodeError):
        # A stored pattern RE2 refuses (saved before validation used RE2), or
        # text that is not UTF-8: no match, never an error for the alert.
        return False


def _text(value) -> str:
    return value if isinstance(value, str) else str(value)


OPS = {
    "eq": lambda a, b: a == b or (isinstance(a, (int, float)) and not isinstance(a, bool) and _text(a) == b),
    "ne": lambda a, b: not OPS["eq"](a, b),
    "in": lambda a, b: any(OPS["eq"](a, item) for item in b),
    "not_in": lambda a, b: not OPS["in"](a, b),
    "contains": lambda a, b: (b in a) if isinstance(a, (list, dict)) else _text(b) in _text(a),
    "not_contains": lambda a, b: not OPS["contains"](a, b),
    "icontains": lambda a, b: _text(b).lower() in _text(a).lower(),
    "regex": lambda a, b: _search(b, a),
    "iregex": lambda a, b: _search(b, a, ignore_case=True),
    "glob": lambda a, b: fnmatch.fnmatchcase(_text(a), b),
    "startswith": lambda a, b: _text(a).startswith(_text(b)),
    "endswith": lambda a, b: _text(a).endswith(_text(b)),
    "gt": _compare(lambda a, b: a > b),
    "gte": _compare(lambda a, b: a >= b),
    "lt": _compare(lambda a, b: a < b),
    "lte": _compare(lambda a, b: a <= b),
}
NO_VALUE_OPS = {"exists", "not_exists"}
# What a missing path means for each operator: negations hold, others fail.
HOLDS_WHEN_MISSING = {"ne", "not_in", "not_contains", "not_exists"}


def validate(conditions) -> None:
    """Raise ConditionError with a message a person can act on."""
    if not isinstance(conditions, list):
        raise ConditionError("match must be a list of conditions")
    try:
        storable.check(conditions, "match")
    except storable.NotStorable as exc:
        raise ConditionError(str(exc)) from None
    for i, condition in enumerate(conditions):
        where = f"match[{i}]"
        if isinstance(condition, dict) and set(condition) == {"any"}:
            if not isinstance(condition["any"], list) or not condition["any"]:
                raise ConditionError(f"{where}.any must be a non-empty list of conditions")
            for c in condition["any"]:
                if isinstance(c, dict) and "any" in c:
                    raise ConditionError(f"{where}.any cannot nest another any group")
            validate(condition["any"])
            continue
        if not isinstance(condition, dict) or "path" not in condition or "op" not in condition:
            raise ConditionError(f'{where} must be {{"path", "op", "value"}} or {{"any": [...]}}')
        op, value = condition["op"], condition.get("value")
        try:
            paths.parse(condition["path"])
        except paths.PathError as exc:
            raise ConditionError(f"{where}.path: {exc}") from None
        if op in NO_VALUE_OPS:
            continue
        if op not in OPS:
            raise ConditionError(f"{where}.op {op!r} is not one of {', '.join(sorted([*OPS, *NO_VALUE_OPS]))}")
        if "value" not in condition:
            raise ConditionError(f"{where}: {op} needs a value")
        if op in ("in", "not_in") and not isinstance(value, list):
            raise ConditionError(f"{where}: {op} takes a list")
        if op in ("regex", "iregex", "glob") and not isinstance(value, str):
            raise ConditionError(f"{where}: {op} takes a string")
        if op in ("regex", "iregex"):
            if len(value) > MAX_PATTERN:
                raise ConditionError(f"{where}: the pattern is longer than {MAX_PATTERN} characters")
            try:
                _regex(value, op == "iregex")
            except ConditionError as exc:
                raise ConditionError(f"{where}: {exc}") from None


def holds(condition: dict, document: dict) -> bool:
    actual = paths.resolve(document, condition["path"])
    op = condition["op"]
    if actual is paths.MISSING:
        return op in HOLDS_WHEN_MISSING
    if op == "exists":
        return True
    if op == "not_exists":
        return False
    try:
        return bool(OPS[op](actual, condition.get("value")))
    except TypeError:
        return False


def evaluate(conditions: list, document: dict) -> tuple[bool, str]:
    """(matched, reason): the reason says in words why the first condition
    that failed does not hold."""
    for condition in conditions:
        if "any" in condition:
            if not any(holds(c, document) for c in condition["any"]):
                reasons = "; ".join(explain(c, document) for c in condition["any"])
                return False, f"none of the alternatives holds: {reasons}"
        elif not holds(condition, document):
            return False, explain(condition, document)
    return True, "all conditions hold"


_PHRASES = {
    "eq": "is {actual}, not {value}",
    "ne": "is {value}, which it must not be",
    "in": "is {actual}, which is not one of {value}",
    "not_in": "is {actual}, which is one of {value}",
    "contains": "is {actual}, which does not contain {value}",
    "not_contains": "is {actual}, which contains {value}",
    "icontains": "is {actual}, which does not contain {value} (ignoring case)",
    "regex": "is {actual}, which does not match the pattern {value}",
    "iregex": "is {actual}, which does not match the pattern {value} (ignoring case)",
    "glob": "is {actual}, which does not match {value}",
    "startswith": "is {actual}, which does not start with {value}",
    "endswith": "is {actual}, which does not end with {value}",
    "gt": "is {actual}, not more than {value}",
    "gte": "is {actual}, less than {value}",
    "lt": "is {actual}, not less than {value}",
    "lte": "is {actual}, more than {value}",
    "not_exists": "is {actual}, but it must not be there",
}


def explain(condition: dict, document: dict) -> str:
    """Why a condition does not hold, in words: "labels.env is 'staging', not 'prod'"."""
    path, op = condition["path"], condition["op"]
    actual = paths.resolve(document, path)
    if actual is paths.MISSING:
        return f"{path} is missing"
    if op in ("gt", "gte", "lt", "lte") and _number(actual) is None:
        return f"{path} is {actual!r}, which is not a number"
    if op in ("regex", "iregex"):
        try:
            _regex(condition.get("value"), op == "iregex")
        except (ConditionError, TypeError) as exc:
            # Saved before patterns were checked with RE2: it never matches.
            return f"the pattern {condition.get('value')!r} never matches: {exc}; edit the binding"
    phrase = _PHRASES.get(op, "does not hold")
    return f"{path} " + phrase.format(actual=repr(actual), value=repr(condition.get("value")))
