"""Error pages: JSON for the API and webhooks, HTML elsewhere (config/urls.py's
handler400..500)."""

from django.http import JsonResponse
from django.shortcuts import render


def _error_page(request, status: int, title: str):
    if request.path.startswith(("/api/", "/hooks/")):
        return JsonResponse({"detail": title}, status=status)
    return render(request, "webui/error.html", {"status": status, "title": title}, status=status)


def bad_request(request, exception=None):
    return _error_page(request, 400, "Bad request.")


def forbidden(request, exception=None):
    return _error_page(request, 403, "You may not do this.")


def not_found(request, exception=None):
    return _error_page(request, 404, "Not found.")


def server_error(request):
    return _error_page(request, 500, "Something went wrong on our side; it has been logged.")
