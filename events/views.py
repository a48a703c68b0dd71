"""POST /hooks/<slug>: the one door monitoring tools knock on.

A plain Django view (not DRF, no CSRF). In order: the source's token, the
body (type, size, JSON), the kind's signature, the source's rate limit, then
the kind's adapter turns the body into events, stored in one transaction:
202 only once they are committed. Whatever is refused stores nothing.
"""

import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from events import hookconfig, ingest, limits
from events.credentials import presented_token
from events.sources import ADAPTERS
from events.sources.base import PayloadError, SignatureError, TooManyAlerts, UpstreamError, check_count, decode_json

log = logging.getLogger(__name__)
JSON_TYPES = ("application/json",)


def _error(status: int, detail: str, **headers) -> JsonResponse:
    response = JsonResponse({"detail": detail}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _unauthorized(adapter, detail: str) -> JsonResponse:
    return _error(401, detail, WWW_Authenticate=f'{adapter.AUTH_SCHEME} realm="steward"')


def _accepts(adapter, content_type: str) -> bool:
    return content_type in JSON_TYPES or content_type.endswith("+json") or content_type in adapter.EXTRA_CONTENT_TYPES


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
    config = hookconfig.lookup(slug)
    if config is None:
        return _error(404, "No such source.")
    source = config.source
    adapter = ADAPTERS.get(source.kind)
    if adapter is None:
        return _error(400, f"Sources of kind {source.kind!r} are not supported.")
    if not source.check_token(presented_token(request)):
        return _unauthorized(adapter, "Missing or invalid source token.")
    if not _accepts(adapter, request.content_type):
        return _error(415, "Send Content-Type: application/json.")
    body = _read_body(request)
    if body is None:
        return _error(413, f"The body is over {settings.STEWARD_WEBHOOK_MAX_BYTES} bytes.")
    try:
        adapter.verify(request, body, source)
        document = _decode(body)
        # After authentication: a stranger cannot spend the source's budget.
        wait = limits.retry_after(source)
        if wait:
            limit = source.rate_limit_per_minute
            return _error(429, f"Over this source's limit of {limit} requests a minute.", Retry_After=str(wait))
        reply = adapter.control(request, document, source)
        if reply is not None:
            return JsonResponse(reply)
        alerts = adapter.parse(document, source)
        check_count(len(alerts))  # every kind; the group kinds check before parsing
    except SignatureError as exc:
        return _unauthorized(adapter, str(exc))
    except TooManyAlerts as exc:
        return _error(413, str(exc))
    except PayloadError as exc:
        return _error(400, str(exc))
    except UpstreamError as exc:
        log.warning("webhook %s: %s", slug, exc)
        return _error(502, str(exc))
    return _store(request, config, adapter, document, alerts)


def _decode(body: bytes):
    return decode_json(body)


def _store(request, config, adapter, document, alerts) -> JsonResponse:
    """Ingest the events once per delivery: a retry of a delivery already
    stored answers 202 with "duplicate": true and stores nothing."""
    source = config.source
    delivery = adapter.delivery_id(request, document)
    if delivery and not limits.claim_delivery(source, delivery):
        return JsonResponse({"accepted": 0, "duplicate": True, "events": [], "executions": []}, status=202)
    try:
        result = (
            ingest.ingest(source, alerts, request=request, bindings=config.bindings)
            if alerts
            else ingest.Ingested([], [])
        )
    except Exception:
        if delivery:
            limits.release_delivery(source, delivery)  # not stored: let the retry in
        raise
    return JsonResponse(
        {
            "accepted": len(result.events),
            "events": [str(e.id) for e in result.events],
            "executions": [str(x.id) for x in result.executions],
        },
        status=202,
    )
