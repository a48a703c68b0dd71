"""Keyset pagination: the one paginator of every list, the API's
(core/drf.CursorPagination, `?cursor=`) and the pages' (webui/filters.py).

Rows sort by the list's field, then by primary key, so rows that share a
time keep one order and none is skipped or shown twice across pages. A
cursor names the row a page ends (or starts) at and which way to go on, so
a page deep in a long history is one indexed query like the first, and a
row inserted meanwhile does not shift the next page.

A cursor is base64url JSON `[">" or "<", value, pk]`. A client can edit
it, so the value and the pk are parsed by the model's own fields (and held
to the database's integer range) before they reach a query: an edited
cursor is `InvalidCursor`, never a 500.
"""

import base64
import binascii
import datetime
import json
from dataclasses import dataclass

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Q

AFTER, BEFORE = ">", "<"
DEFAULT_SIZE = 50
MAX_SIZE = 500
_BIGINT = 2**63


class InvalidCursor(ValueError):
    """Not a cursor this list gave out."""


@dataclass
class Page:
    rows: list
    next: str | None  # the rows after the last one shown
    previous: str | None  # the rows before the first one shown


def page(queryset, ordering: str, cursor: str | None = None, size: int = DEFAULT_SIZE) -> Page:
    """One page of `queryset` sorted by `ordering` ("-created_at", "name"...)
    then by primary key, from `cursor` (None: the first page)."""
    field = ordering.lstrip("-")
    descending = ordering.startswith("-")
    direction, value, pk = decode(queryset.model, field, cursor) if cursor else (None, None, None)
    if direction == BEFORE:
        # Walk back from the cursor in the opposite order, then turn round.
        older = queryset.filter(_beyond(field, value, pk, not descending)).order_by(*_order(field, not descending))
        rows = list(older[: size + 1])
        more = len(rows) > size
        rows = rows[:size][::-1]
        following = encode(AFTER, rows[-1], field) if rows else None
        return Page(rows, following, encode(BEFORE, rows[0], field) if more else None)
    if direction == AFTER:
        queryset = queryset.filter(_beyond(field, value, pk, descending))
    rows = list(queryset.order_by(*_order(field, descending))[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    previous = encode(BEFORE, rows[0], field) if direction and rows else None
    return Page(rows, encode(AFTER, rows[-1], field) if more else None, previous)


def _order(field: str, descending: bool) -> tuple[str, str]:
    return (f"-{field}", "-pk") if descending else (field, "pk")


def _beyond(field: str, value, pk, downwards: bool) -> Q:
    """Rows strictly past (value, pk), going down or up the order."""
    op = "lt" if downwards else "gt"
    return Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk})


def encode(direction: str, row, field: str) -> str:
    value = getattr(row, field)
    if isinstance(value, datetime.datetime):
        value = value.isoformat()
    return base64.urlsafe_b64encode(json.dumps([direction, value, str(row.pk)]).encode()).decode()


def decode(model, field: str, cursor: str) -> tuple[str, object, object]:
    """(direction, value, pk) as the model's fields read them."""
    try:
        direction, value, pk = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        if direction not in (AFTER, BEFORE) or value is None:
            raise ValueError("not a position")
        value = _field_value(model._meta.get_field(field), value)
        pk = model._meta.pk.to_python(pk)
    except (ValueError, TypeError, UnicodeError, binascii.Error, ValidationError, FieldDoesNotExist):
        raise InvalidCursor(cursor) from None
    for number in (value, pk):
        if isinstance(number, int) and not -_BIGINT < number < _BIGINT:
            raise InvalidCursor(cursor)
    return direction, value, pk


def _field_value(field, value):
    value = field.to_python(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            raise ValueError("a cursor's time has no offset")
        # PostgreSQL refuses offsets Python accepts (past ±15:59): UTC it is.
        value = value.astimezone(datetime.UTC)
    return value
