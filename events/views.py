"""POST /hooks/<slug>: the one door monitoring tools knock on.

A plain Django view (not DRF, no CSRF): it authenticates only the source's
token, and answers 202 only once the events are committed.
"""

import base64
import binascii
import json
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from events import services
from events.models import Source
from events.sources import ADAPTERS
from events.sources.base import PayloadError

log = logging.getLogger(__name__)
JSON_TYPES = ("application/json",)


def _error(status: int, detail: str, **headers) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _credentials(request) -> str:
    """The token from `Bearer <token>` or from Basic auth's password."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def _read_body(request) -> bytes | None:
    """The body, or None when it is over the size limit."""
    limit = settings.STEWARD_WEBHOOK_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
@require_POST
def hook(request, slug):
    try:
        return _hook(request, slug)
    except DatabaseError:
        # Unreachable or locked database: monitoring tools retry on 503.
        log.warning("webhook %s: database unavailable", slug, exc_info=True)
        return _error(503, "The database is unavailable; retry later.", Retry_After="5")


def _hook(request, slug):
    source = Source.objects.filter(slug=slug).first()
    if source is None:
        return _error(404, "No such source.")
    if not source.check_token(_credentials(request)):
        return _error(401, "Missing or invalid source token.", WWW_Authenticate='Bearer realm="steward"')
    adapter = ADAPTERS.get(source.kind)
    if adapter is None:
        return _error(400, f"Sources of kind {source.kind!r} are not supported yet.")
    if request.content_type not in JSON_TYPES and not request.content_type.endswith("+json"):
        return _error(415, "Send Content-Type: application/json.")
    body = _read_body(request)
    if body is None:
        return _error(413, f"The body is over {settings.STEWARD_WEBHOOK_MAX_BYTES} bytes.")
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, f"The body is not valid JSON: {exc}")
    try:
        alerts = adapter.parse(document, source)
    except PayloadError as exc:
        return _error(400, str(exc))
    result = services.ingest(source, alerts, request=request)
    return JsonResponse(
        {
            "accepted": len(result.events),
            "events": [str(e.id) for e in result.events],
            "executions": [str(x.id) for x in result.executions],
        },
        status=202,
    )
