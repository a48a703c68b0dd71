"""The one switch between a fragment and its page (style rule 9).

A fragment endpoint answers htmx (`request.htmx`, from django-htmx's
middleware) with `page.html#name`; anything else, a bookmarked or reloaded
poll URL, a link opened in a new tab, gets the full page it belongs to, never
a bare fragment. Both answers vary on HX-Request, so no cache hands one to
the other.
"""

import functools

from django.shortcuts import redirect
from django.utils.cache import patch_vary_headers


def vary_on_htmx(response):
    patch_vary_headers(response, ["HX-Request"])
    return response


def fragment(full_page: str):
    """Decorate a fragment view; `full_page` is the URL name of its page,
    reversed with the same URL arguments."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.htmx:
                return vary_on_htmx(redirect(full_page, *args, **kwargs))
            return vary_on_htmx(view(request, *args, **kwargs))

        return wrapped

    return decorator
