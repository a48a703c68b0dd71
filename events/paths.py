"""Paths into an event: `labels.severity`, `payload.items[0].id`,
`labels["app.kubernetes.io/name"]` (a key holding dots, in brackets)."""

import re
from functools import lru_cache

MISSING = object()
# Paths are written by hand; a longer one is a mistake or an attack.
MAX_PATH = 500
_TOKEN = re.compile(
    r"""\s*(?:
        \.?([^.\[\]"']+)                 # .name
      | \[\s*(-?\d{1,9})\s*\]            # [3]
      | \[\s*"((?:[^"\\]|\\.)*)"\s*\]  # ["key.with.dots"]
      | \[\s*'((?:[^'\\]|\\.)*)'\s*\]  # ['key']
    )""",
    re.VERBOSE,
)


class PathError(ValueError):
    pass


@lru_cache(maxsize=4096)
def parse(path: str) -> tuple:
    """Split a path into keys (str) and list indexes (int)."""
    if not isinstance(path, str) or not path.strip():
        raise PathError("path must be a non-empty string")
    if len(path) > MAX_PATH:
        raise PathError(f"path is longer than {MAX_PATH} characters")
    parts, pos = [], 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise PathError(f"cannot read path {path!r} at position {pos}")
        name, index, dq, sq = m.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(name if name is not None else (dq if dq is not None else sq))
        pos = m.end()
    return tuple(parts)


def resolve(document, path: str):
    """The value at `path`, or MISSING (also for a path stored before a rule
    that now refuses it: an alert never fails on a binding's old path)."""
    try:
        parts = parse(path)
    except PathError:
        return MISSING
    value = document
    for part in parts:
        if isinstance(part, int):
            if isinstance(value, list) and -len(value) <= part < len(value):
                value = value[part]
            else:
                return MISSING
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return MISSING
    return value
