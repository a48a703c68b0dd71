"""API plumbing shared by every app: pagination, errors, the router."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema_field
from rest_framework import pagination, routers, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.relations import MANY_RELATION_KWARGS
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import exception_handler as drf_exception_handler

from core import errors, keyset
from core.errors import Refused
from core.errors import status_of as errors_status_of
from core.filtering import FilterBackend

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
SLUG_PATTERN = r"[-a-zA-Z0-9_]+"


INVALID_CURSOR = "not a cursor this list gave out; start again without it"


class CursorPagination(pagination.BasePagination):
    """`{"results", "next", "previous"}` by core/keyset.py, the pages'
    paginator too: stable under inserts, one query at any depth.

    The order is the list's `?ordering=` (core.filtering.FilterBackend) or
    the paginator's own. A bad `page_size` or `cursor` is a 400 naming it,
    never silently the default page nor a 500 (a cursor is base64 a client
    can edit, and its position reaches the query)."""

    ordering = "-created_at"
    page_size = keyset.DEFAULT_SIZE
    max_page_size = keyset.MAX_SIZE
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None):
        self.base_url = request.build_absolute_uri()
        size = self.get_page_size(request)
        cursors = request.query_params.getlist(self.cursor_query_param)
        try:
            if len(cursors) > 1:
                raise keyset.InvalidCursor("two cursors")
            self.page = keyset.page(
                queryset, self._ordering(request, queryset, view), cursors[0] if cursors else None, size
            )
        except keyset.InvalidCursor:
            raise ValidationError({self.cursor_query_param: [INVALID_CURSOR]}) from None
        return self.page.rows

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        wanted = values[-1]
        if len(values) > 1 or not (wanted.isascii() and wanted.isdigit()) or not 1 <= int(wanted) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [f"a whole number from 1 to {self.max_page_size}"]})
        return int(wanted)

    def _ordering(self, request, queryset, view) -> str:
        for backend in getattr(view, "filter_backends", ()):
            if issubclass(backend, FilterBackend) and (asked := backend().get_ordering(request, queryset, view)):
                return asked[0]
        return self.ordering

    def get_paginated_response(self, data):
        return Response(
            {"next": self._link(self.page.next), "previous": self._link(self.page.previous), "results": data}
        )

    def _link(self, cursor: str | None) -> str | None:
        return replace_query_param(self.base_url, self.cursor_query_param, cursor) if cursor else None

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The `next` or `previous` link's cursor.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": "Rows per page.",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


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
