"""Secrets: names and scopes only; a value is written, never shown again."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.authentication import actor_of
from runbooks import secret_store
from runbooks.models import Secret
from webui.access import forbidden_page, role_required
from webui.forms.secrets import SecretForm, SecretUpdateForm


def _secret(pk) -> Secret:
    try:
        return Secret.objects.select_related("updated_by").get(pk=pk)
    except (Secret.DoesNotExist, ValueError):
        raise Http404("No such secret.") from None


@role_required("read", post="manage_secrets")
def secret_list(request):
    may_scope = secret_store.may_change_scope(request.user)
    form = SecretForm(request.POST or None, may_scope=may_scope)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            secret_store.create(
                data["name"],
                data["value"],
                data["description"],
                actor_of(request),
                user=request.user,
                request=request,
                allowed_runbooks=list(data["allowed_runbooks"]),
            )
        except secret_store.ScopeRefused as exc:
            return forbidden_page(request, str(exc))
        messages.success(request, f"Secret {data['name']} saved. Its value will not be shown again.")
        return redirect("secret_list")
    secrets = Secret.objects.select_related("updated_by").prefetch_related("allowed_runbooks").order_by("name")
    return render(request, "webui/secret_list.html", {"secrets": secrets, "form": form})


@role_required("manage_secrets")
def secret_edit(request, pk):
    secret = _secret(pk)
    form = SecretUpdateForm(
        request.POST or None,
        initial={"description": secret.description, "allowed_runbooks": list(secret.allowed_runbooks.all())},
        may_scope=secret_store.may_change_scope(request.user),
    )
    if request.method == "POST" and form.is_valid():
        value = form.cleaned_data["value"] or None
        try:
            secret_store.update(
                secret,
                actor_of(request),
                value=value,
                description=form.cleaned_data["description"],
                user=request.user,
                request=request,
                allowed_runbooks=list(form.cleaned_data["allowed_runbooks"]),
            )
        except secret_store.ScopeRefused as exc:
            return forbidden_page(request, str(exc))
        messages.success(request, f"Secret {secret.name} {'replaced' if value else 'updated'}.")
        return redirect("secret_list")
    return render(request, "webui/secret_edit.html", {"secret": secret, "form": form})


@role_required("manage_secrets")
@require_POST
def secret_delete(request, pk):
    secret = _secret(pk)
    secret_store.delete(secret, actor_of(request), request=request)
    messages.success(
        request, f"Secret {secret.name} deleted. Runbooks that declare it will fail until it exists again."
    )
    return redirect("secret_list")
