"""Whether a value can go into a JSON column of both databases we run on.

Python's json and Jinja2 produce values PostgreSQL refuses (the NUL
character, NaN and Infinity) and psycopg cannot encode (lone surrogates);
SQLite's JSON_VALID check refuses NaN too. Refused at the door, each is a
clear 400 or a failed run; reaching the insert, it was a 503 or a 500 for a
whole webhook. Deep nesting is refused as well: everything that walks a
payload later (matching, templates, the encoder) recurses.
"""

import math

MAX_DEPTH = 64


class NotStorable(ValueError):
    pass


def check(value, what: str = "the value") -> None:
    """Raise NotStorable naming `what` and the problem. Iterative, so the
    check itself never runs out of stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, what)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise NotStorable(f"{what} holds {item}, which JSON cannot store")
        elif isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                raise NotStorable(f"{what} nests deeper than {MAX_DEPTH} levels")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, inner in pairs:
                if isinstance(key, str):
                    check_text(key, what)
                if isinstance(inner, (str, float, dict, list)):
                    stack.append((inner, depth + 1))


def check_text(value: str, what: str = "the text") -> None:
    if "\x00" in value:
        raise NotStorable(f"{what} holds a NUL character (\\u0000), which cannot be stored")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise NotStorable(f"{what} holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not text") from None
