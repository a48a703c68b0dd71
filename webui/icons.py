"""`/favicon.ico`: every browser asks for it, on every page and on those that
link no icon of their own (the API docs, the admin); a 404 there is a
console error on each. Served directly, never redirected, from the same
vendored file the pages link."""

from functools import cache
from pathlib import Path

from django.http import HttpResponse
from django.views.decorators.http import require_safe

ICON = Path(__file__).resolve().parent / "static" / "webui" / "favicon.ico"


@cache
def _icon() -> bytes:
    return ICON.read_bytes()


@require_safe
def favicon(request):
    response = HttpResponse(_icon(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
