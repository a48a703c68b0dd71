"""The login page, throttled against password guessing."""

import logging

from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError

from accounts import throttle
from core.clients import client_address

log = logging.getLogger(__name__)
LOCKED = "Too many failed logins: wait a few minutes, then try again."


class LoginView(auth_views.LoginView):
    template_name = "webui/login.html"

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "")[:150]
        address = client_address(request)
        # The try is taken before the password is checked: requests arriving
        # together cannot all pass a check made before any of them failed.
        if not throttle.attempt(username, address):
            log.warning("login refused for %r from %s: throttled", username, address)
            # A form bound without the password: with it, listing the form's
            # errors would check the password, the very try refused here.
            form = self.get_form_class()(request, data={"username": username})
            form.errors.clear()
            form.add_error(None, ValidationError(LOCKED))
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if request.user.is_authenticated:
            throttle.succeeded(username, address)
        return response
