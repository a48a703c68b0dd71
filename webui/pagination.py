"""Keyset pagination for HTML lists: `?after=<cursor>` of the last row shown,
so a page deep in a long history costs what the first one costs."""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q


def encode(moment: datetime, pk) -> str:
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{pk}".encode()).decode()


def decode(cursor: str):
    try:
        moment, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(moment), pk
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def page(queryset, cursor: str | None, field: str, size: int = 50):
    """(rows, next cursor or None), newest first by (`field`, pk)."""
    queryset = queryset.order_by(f"-{field}", "-pk")
    position = _position(queryset, cursor)
    if position:
        moment, pk = position
        queryset = queryset.filter(Q(**{f"{field}__lt": moment}) | Q(**{field: moment, "pk__lt": pk}))
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (encode(getattr(rows[-1], field), rows[-1].pk) if more else None)


def _position(queryset, cursor: str | None):
    """The decoded cursor, or None when there is none or someone edited it
    (the list then starts from the top rather than failing)."""
    position = decode(cursor) if cursor else None
    if position is None:
        return None
    moment, pk = position
    try:
        pk = queryset.model._meta.pk.to_python(pk)
    except ValidationError:
        return None
    if isinstance(pk, int) and not 0 < pk < 2**63:
        return None
    return moment, pk


# --- Filtered lists in any of their sort orders --------------------------------

MAX_PAGE_SIZE = 500


@dataclass
class Page:
    rows: list
    next_cursor: str | None  # rows after the last one shown (`?after=`)
    previous_cursor: str | None  # rows before the first one shown (`?before=`)


def page_size(params, default: int = 50) -> int:
    """`?page_size=`, as the API takes it: at most 500; anything else is the default."""
    try:
        size = int(params.get("page_size", default))
    except (TypeError, ValueError):
        return default
    return min(max(size, 1), MAX_PAGE_SIZE)


def keyset(queryset, params, ordering: str, size: int = 50) -> Page:
    """One page of `queryset` sorted by `ordering` ("-created_at", "name", ...)
    then by primary key, from `?after=` or `?before=` a cursor; each page is
    one query whatever its depth (an index on the sort field serves it)."""
    field = ordering.lstrip("-")
    descending = ordering.startswith("-")
    forward = (ordering, "-pk" if descending else "pk")
    backward = (field if descending else f"-{field}", "pk" if descending else "-pk")
    before = _sort_position(queryset, params.get("before"), field)
    after = None if before else _sort_position(queryset, params.get("after"), field)
    if before:
        rows = list(queryset.filter(_beyond(field, before, not descending)).order_by(*backward)[: size + 1])
        more = len(rows) > size
        rows = rows[:size][::-1]
        return Page(rows, _cursor(rows[-1], field) if rows else None, _cursor(rows[0], field) if more else None)
    if after:
        queryset = queryset.filter(_beyond(field, after, descending))
    rows = list(queryset.order_by(*forward)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    previous = _cursor(rows[0], field) if after and rows else None
    return Page(rows, _cursor(rows[-1], field) if more else None, previous)


def _beyond(field: str, position, downwards: bool) -> Q:
    """Rows strictly past `position` (value, pk), going down or up."""
    value, pk = position
    op = "lt" if downwards else "gt"
    return Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk})


def _cursor(row, field: str) -> str:
    value = getattr(row, field)
    value = value.isoformat() if isinstance(value, datetime) else value
    return base64.urlsafe_b64encode(json.dumps([value, str(row.pk)]).encode()).decode()


def _sort_position(queryset, cursor: str | None, field: str):
    """(value, pk) from a cursor, or None when there is none or it was
    edited (the list then starts from the top rather than failing)."""
    if not cursor:
        return None
    meta = queryset.model._meta
    try:
        value, pk = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        value, pk = meta.get_field(field).to_python(value), meta.pk.to_python(pk)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, ValidationError):
        return None
    if value is None or (isinstance(pk, int) and not 0 < pk < 2**63):
        return None
    if isinstance(value, int) and not -(2**63) < value < 2**63:
        return None
    return value, pk
