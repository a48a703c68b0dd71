"""An unreachable or locked database is a 503 the client may retry, never a
500 with a stack trace: for pages, the API and the webhook alike."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

log = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        log.warning("database unavailable for %s %s: %s", request.method, request.path, exception)
        if request.path.startswith(("/api/", "/hooks/", "/healthz", "/metrics")):
            response = JsonResponse({"detail": "The database is unavailable; retry later."}, status=503)
        else:
            response = HttpResponse(
                "Steward's database is unavailable; retry in a moment.", status=503, content_type="text/plain"
            )
        response["Retry-After"] = "5"
        return response
