"""The login page, throttled against password guessing."""

import logging

from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError

from accounts import throttle

log = logging.getLogger(__name__)
LOCKED = "Too many failed logins: wait a few minutes, then try again."


class LoginView(auth_views.LoginView):
    template_name = "webui/login.html"

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")[:150]
        address = request.META.get("REMOTE_ADDR", "")
        if throttle.locked(username, address):
            log.warning("login refused for %r from %s: throttled", username, address)
            form = self.get_form()
            form.errors.clear()
            form.add_error(None, ValidationError(LOCKED))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            throttle.succeeded(username)
        else:
            throttle.failed(username, address)
        return response
