"""Roles on the pages: `@role_required("read", post="run")` logs the user
in first, then answers 403 with the reason when their role falls short.
Templates ask the same question with `{% if user|may:"run" %}`."""

import functools

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts import roles


def refuse(request, action: str):
    """The 403 page for an action the user's role falls short of; a user
    without a role learns that first."""
    title = "You have no role yet." if roles.role_of(request.user) is None else "You may not do this."
    return forbidden_page(request, roles.refusal(request.user, action), title)


def forbidden_page(request, detail: str, title: str = "You may not do this."):
    """The 403 page, saying why (also for four-eyes refusals)."""
    return render(request, "webui/error.html", {"status": 403, "title": title, "detail": detail}, status=403)


def role_required(action: str, post: str | None = None):
    """`action` for every request; `post`, when given, for a POST as well
    (a page that shows something to viewers and changes it for others)."""

    def decorator(view):
        @login_required
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            for needed in (action, post if request.method == "POST" else None):
                if needed and not roles.may(request.user, needed):
                    return refuse(request, needed)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
