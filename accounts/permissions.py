"""The API's permission check: every view names the role action each of its
actions needs; reads need "read"."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts import roles


def required_action(request, view) -> str:
    """What this request needs. Reads (GET, HEAD, OPTIONS) need "read". A
    viewset maps the actions that write in `role_actions` (e.g. {"create":
    "edit_runbooks"}; a POST that changes nothing may map to "read"). A write
    not listed needs an admin: an endpoint someone forgot to map is closed,
    not open."""
    if request.method in SAFE_METHODS:
        return "read"
    return getattr(view, "role_actions", {}).get(getattr(view, "action", None)) or "manage_users"


class RolePermission(BasePermission):
    message = roles.NO_ROLE

    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False  # DRF answers 401 with the authentication's challenge
        action = required_action(request, view)
        if roles.may(user, action):
            return True
        self.message = roles.refusal(user, action)  # one instance per request
        return False
