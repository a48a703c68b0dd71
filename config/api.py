"""API plumbing shared by every app: pagination, errors, the router."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import pagination, routers
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
SLUG_PATTERN = r"[-a-zA-Z0-9_]+"


class CursorPagination(pagination.CursorPagination):
    """`{"results", "next", "previous"}`, stable under inserts."""

    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


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
