"""API plumbing shared by every app: pagination, errors, the router."""

import binascii
import datetime
from base64 import b64decode
from urllib import parse

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema_field
from rest_framework import pagination, routers, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.relations import MANY_RELATION_KWARGS
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from core import errors
from core.errors import Refused
from core.errors import status_of as errors_status_of

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
SLUG_PATTERN = r"[-a-zA-Z0-9_]+"


INVALID_CURSOR = "not a cursor this list gave out; start again without it"


class CursorPagination(pagination.CursorPagination):
    """`{"results", "next", "previous"}`, stable under inserts.

    A bad `page_size` or `cursor` is a 400 naming it, never silently the
    default page (DRF ignores a bad page_size) nor a 404 or a 500 (a cursor
    is base64 a client can edit, and its position reaches the query)."""

    ordering = ("-created_at", "-pk")  # -pk: one order among rows of one time
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

    def get_previous_link(self):
        """Going back from a page reached forward at an offset is that same
        query at the offset one page smaller. DRF instead turns around at the
        page's last position, which, when every row of the page shares one
        time (a burst of alerts), is a filter past all of them: an empty page
        (tests/lists/test_tied_timestamps.py). The `-pk` in the ordering keeps
        tied rows in one order from query to query, so offsets mean the same."""
        cursor = getattr(self, "cursor", None)
        if self.has_previous and cursor and not cursor.reverse and cursor.offset >= self.page_size:
            back = pagination.Cursor(offset=cursor.offset - self.page_size, reverse=False, position=cursor.position)
            if back.offset == 0 and back.position is None:
                return remove_query_param(self.base_url, self.cursor_query_param)
            return self.encode_cursor(back)
        return super().get_previous_link()

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


# --- JSON types are what the schema says ------------------------------------
#
# DRF coerces: a CharField takes 5 as "5", an IntegerField "5", a
# BooleanField "yes" or 1. The schema says string, integer, boolean, and a
# request body is JSON (the only parser), so for an API request (a
# serializer given the request) a value of another JSON type is a 400, as
# the schema promises. A page that runs a serializer on form data gives no
# request and keeps DRF's coercion.


def _is_integer(value) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))


JSON_TYPES = {
    serializers.CharField: lambda value: isinstance(value, str),
    serializers.IntegerField: _is_integer,
    serializers.FloatField: lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
    serializers.BooleanField: lambda value: isinstance(value, bool),
    # DRF would look 0 up as "0"; PostgreSQL refuses a NUL in a query (a 500).
    serializers.SlugRelatedField: lambda value: isinstance(value, str) and "\x00" not in value,
}


def _json_typed(field_class, accepts):
    coercing = field_class.to_internal_value

    def to_internal_value(self, data):
        if self.context.get("request") is not None and not accepts(data):
            self.fail("invalid", input=data)
        return coercing(self, data)

    field_class.to_internal_value = to_internal_value


for _field_class, _accepts in JSON_TYPES.items():
    _json_typed(_field_class, _accepts)


# An unknown field is a 400, not silently dropped: `requires_aproval: true`
# would otherwise save a binding without the approval its author asked for.
# The schema says so (additionalProperties: false, core/openapi.py). The
# message is core.errors' so that domain rules refuse with the same words.
UNKNOWN_FIELD = errors.UNKNOWN_FIELD


def _known_fields_only():
    taking = serializers.Serializer.to_internal_value

    def to_internal_value(self, data):
        if self.parent is None and self.context.get("request") is not None and isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise ValidationError({name: [UNKNOWN_FIELD] for name in unknown})
        return taking(self, data)

    serializers.Serializer.to_internal_value = to_internal_value


_known_fields_only()


# The schema of a field is set on its class: DRF copies each serializer's
# fields by calling their class again, so an attribute on an instance is lost.
def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class _StorableJSONField(serializers.JSONField):
    def to_internal_value(self, data):
        # PostgreSQL's jsonb cannot hold \u0000 (a 500 it would be).
        if _has_nul(data):
            raise ValidationError("a NUL character (\\u0000) cannot be stored")
        return super().to_internal_value(data)


@extend_schema_field({"type": "object", "additionalProperties": True})
class JSONObjectField(_StorableJSONField):
    """A JSON object, said so in the schema (a bare JSONField is documented
    as any value, null included, which the validation refuses)."""


@extend_schema_field({"type": "array", "items": {}})
class JSONListField(_StorableJSONField):
    """A JSON array (see JSONObjectField)."""


class StrictManyRelatedField(serializers.ManyRelatedField):
    """A list of references that is a JSON list: DRF takes any iterable, so
    `{}` passed for `[]`."""

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class SlugsField(serializers.SlugRelatedField):
    """`many=True` slugs, refusing anything but a JSON list."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        # As DRF's own many_init, with the strict list.
        many = {key: value for key, value in kwargs.items() if key in MANY_RELATION_KWARGS}
        return StrictManyRelatedField(child_relation=cls(*args, **kwargs), **many)


class Router(routers.DefaultRouter):
    """Every path works with and without its trailing slash; no redirects."""

    include_root_view = False
    include_format_suffixes = False

    def __init__(self):
        super().__init__()
        self.trailing_slash = "/?"


def field_rule(rule, *args):
    """Run a domain rule (core.errors.Refused) from a serializer's
    `validate_<field>`: its problems become that field's errors."""
    try:
        return rule(*args)
    except Refused as exc:
        raise ValidationError([message for _, message in exc.problems]) from None


def exception_handler(exc, context):
    """Errors are `{"detail": ...}`; field errors also under `errors`. A
    domain refusal (core.errors.Refused) gets the status of its kind; one
    that names no field (a state, a permission) is `{"detail": ...}` alone,
    as DRF's own 403 and 409 answers are."""
    if isinstance(exc, Refused):
        if not any(field for field, _ in exc.problems):
            detail = "; ".join(message for _, message in exc.problems)
            return Response({"detail": detail}, status=errors_status_of(exc))
        errors = exc.by_field()
        return Response({"detail": _first_message(errors), "errors": errors}, status=errors_status_of(exc))
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
        if _only(exc.get_codes(), "unique"):
            # The name or slug is taken: the request is fine, the state is not.
            response.status_code = status.HTTP_409_CONFLICT
    return response


def _only(codes, wanted: str) -> bool:
    """True when every error code in DRF's nested codes is `wanted`."""
    if isinstance(codes, dict):
        return bool(codes) and all(_only(c, wanted) for c in codes.values())
    if isinstance(codes, list):
        return bool(codes) and all(_only(c, wanted) for c in codes)
    return codes == wanted


def _first_message(errors) -> str:
    if isinstance(errors, dict):
        for field, value in errors.items():
            message = _first_message(value)
            return message if field == "non_field_errors" else f"{field}: {message}"
    if isinstance(errors, list) and errors:
        return _first_message(errors[0])
    return str(errors) or "Invalid input."
