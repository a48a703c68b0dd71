"""API tokens (each user's own; admins see all) and users' roles."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import roles, services
from accounts.authentication import actor_of
from accounts.models import ApiToken
from accounts.validation import AccountRefused
from webui import pagination
from webui.access import refuse, role_required
from webui.forms.accounts import RoleForm, TokenForm, UserForm

USERS_PAGE = 200


def _visible_tokens(user):
    tokens = ApiToken.objects.select_related("user")
    return tokens if roles.may(user, "manage_tokens") else tokens.filter(user=user)


@role_required("read")
def token_list(request):
    form = TokenForm(request.POST or None)
    created, status = None, 200
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        expires_at = timezone.now() + timedelta(days=days) if days else None
        row, token = services.issue_token(
            request.user, form.cleaned_data["name"], actor_of(request), expires_at=expires_at, request=request
        )
        # Rendered, not redirected: the token must never sit in a URL or a later page.
        created, status, form = (row, token), 201, TokenForm()
    rows, links = pagination.page(request, _visible_tokens(request.user), "-created_at")
    return render(
        request,
        "webui/token_list.html",
        {
            "tokens": rows,
            **links,
            "form": form,
            "created": created,
            "everyone": roles.may(request.user, "manage_tokens"),
            "now": timezone.now(),
        },
        status=status,
    )


@role_required("read")
@require_POST
def token_revoke(request, pk):
    token = ApiToken.objects.select_related("user").filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    if token.user_id != request.user.pk and not roles.may(request.user, "manage_tokens"):
        return refuse(request, "manage_tokens")
    if services.revoke_token(token, actor_of(request), request=request):
        messages.success(request, f"Token {token.name} ({services.token_label(token)}) revoked.")
    else:
        messages.info(request, f"Token {token.name} was already revoked.")
    return redirect("token_list")


@role_required("manage_users")
def user_list(request):
    form = UserForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.create_user(data["username"], data["password"], data["role"] or None, actor_of(request), request)
        except AccountRefused as exc:  # created by someone else since the form was checked
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, f"User {data['username']} created.")
            return redirect("user_list")
    if form.errors:
        status = 400
    users = list(
        get_user_model()
        .objects.prefetch_related(Prefetch("groups", queryset=Group.objects.filter(name__in=roles.ROLES)))
        .order_by("username")[:USERS_PAGE]
    )
    for user in users:
        user.role = roles.ADMIN if user.is_superuser else roles.highest(g.name for g in user.groups.all())
    return render(
        request,
        "webui/user_list.html",
        {"users": users, "form": form, "roles": roles.ROLES, "truncated": len(users) == USERS_PAGE},
        status=status,
    )


@role_required("manage_users")
@require_POST
def user_role(request, pk):
    user = get_user_model().objects.filter(pk=pk).first()
    if user is None:
        raise Http404("No such user.")
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick one of the roles.")
    elif user.is_superuser:
        messages.info(request, f"{user.get_username()} is a superuser: always an admin.")
    elif services.change_role(user, form.cleaned_data["role"] or None, actor_of(request), request=request):
        messages.success(request, f"{user.get_username()} is now {form.cleaned_data['role'] or 'without a role'}.")
    else:
        messages.info(request, f"{user.get_username()} already had that role.")
    return redirect("user_list")
