"""Keyset pagination for HTML lists: `?after=<cursor>` of the last row shown,
so a page deep in a long history costs what the first one costs."""

import base64
import binascii
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
