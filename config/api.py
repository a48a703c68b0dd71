"""API plumbing shared by every app: pagination, errors, the router."""

import binascii
import datetime
from base64 import b64decode
from urllib import parse

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import pagination, routers
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
SLUG_PATTERN = r"[-a-zA-Z0-9_]+"


INVALID_CURSOR = "not a cursor this list gave out; start again without it"


class CursorPagination(pagination.CursorPagination):
    """`{"results", "next", "previous"}`, stable under inserts.

    A bad `page_size` or `cursor` is a 400 naming it, never silently the
    default page (DRF ignores a bad page_size) nor a 404 or a 500 (a cursor
    is base64 a client can edit, and its position reaches the query)."""

    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        wanted = values[-1]
        if len(values) > 1 or not (wanted.isascii() and wanted.isdigit()) or not 1 <= int(wanted) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"a whole number from 1 to {self.max_page_size}"]})
        return int(wanted)

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model  # decode_cursor checks the position against the ordering's field
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        values = request.query_params.getlist(self.cursor_query_param)
        if not values:
            return None
        try:
            if len(values) > 1:
                raise ValueError("two cursors")
            querystring = b64decode(values[0].encode("ascii"), validate=True).decode("ascii")
            tokens = parse.parse_qs(querystring, keep_blank_values=True, strict_parsing=bool(querystring))
            offset = pagination._positive_int(tokens.get("o", ["0"])[0], cutoff=self.offset_cutoff)
            reverse = bool(int(tokens.get("r", ["0"])[0]))
            position = self._checked_position(tokens.get("p", [None])[0])
        except (TypeError, ValueError, OverflowError, binascii.Error, DjangoValidationError):
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        return pagination.Cursor(offset=offset, reverse=reverse, position=position)

    def _checked_position(self, position: str | None) -> str | None:
        """The position as the ordering's field reads it (ValueError or
        ValidationError when it cannot), a time moved to UTC: a position
        with an offset PostgreSQL refuses would otherwise be a 500."""
        if position is None:
            return None
        try:
            field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        except (AttributeError, FieldDoesNotExist):
            return position
        value = field.to_python(position)
        if isinstance(value, datetime.datetime):
            if value.tzinfo is None:
                raise ValueError("a cursor's time has an offset")
            return value.astimezone(datetime.UTC).isoformat()
        return position

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class Router(routers.DefaultRouter):
    """Every path works with and without its trailing slash; no redirects."""

    include_root_view = False
    include_format_suffixes = False

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


def exception_handler(exc, context):
    """Errors are `{"detail": ...}`; field errors also under `errors`."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(exc.messages)
    if isinstance(exc, Http404):
        exc = Http404("Not found.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        errors = response.data
        detail = _first_message(errors)
        response.data = {"detail": detail, "errors": errors}
    return response


def _first_message(errors) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors) or "Invalid input."
