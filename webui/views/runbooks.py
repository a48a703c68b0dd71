"""Runbooks: the list, authoring in the browser (new, edit, upload), a
runbook's page with its Run form, its versions, review, restore and diff;
every change through runbooks.versions and runbooks.runs, as the API's."""

import json

from django.contrib import messages
from django.db.models import Count, Max
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.authentication import actor_of
from runbooks import environments, review, runs, secret_store, versions
from runbooks import parameters as params
from runbooks.filters import RunbookFilter
from runbooks.models import DEFAULT_QUEUE, Execution, Runbook, RunbookVersion, Secret
from webui import diff, pagination, refusals
from webui.access import role_required
from webui.filters import list_page
from webui.forms.runbooks import ParametersForm, RunbookForm

VERSIONS_PAGE = 50


def _runbook(slug: str) -> Runbook:
    return get_object_or_404(
        Runbook.objects.select_related("current_version", "pending_version__author"),
        slug=slug,
        current_version__isnull=False,
    )


def _latest_number(runbook: Runbook) -> int:
    """The highest version number, past the current one when a draft waits
    for review (or was withdrawn)."""
    return RunbookVersion.objects.filter(runbook=runbook).aggregate(n=Max("number"))["n"]


def _saved_message(request, runbook: Runbook, version: RunbookVersion, latest: RunbookVersion) -> None:
    """What a save did, given the latest version before it."""
    if version.pk == latest.pk:
        messages.info(request, "Saved. The code did not change, so there is no new version.")
    elif version.number < latest.number:  # back to the content in use
        messages.info(request, f"Saved. v{latest.number}, which waited for approval, was withdrawn.")
    elif version.pk == runbook.pending_version_id:
        messages.warning(
            request,
            f"Saved as version {version.number}. {runbook.name} is protected: runs keep using "
            f"v{runbook.current_version.number} until another author approves v{version.number}.",
        )
    else:
        messages.success(request, f"Saved as version {version.number}.")


def _version(runbook: Runbook, number) -> RunbookVersion:
    try:
        return RunbookVersion.objects.select_related("author", "approved_by").get(runbook=runbook, number=int(number))
    except (RunbookVersion.DoesNotExist, TypeError, ValueError):
        raise Http404("No such version.") from None


def _recent_runs(runbook: Runbook):
    return (
        Execution.objects.select_related("runbook", "version", "event")
        .filter(runbook=runbook)
        .order_by("-created_at")[:10]
    )


@role_required("read")
def runbook_list(request):
    runbooks = Runbook.objects.select_related("current_version").filter(current_version__isnull=False)
    return list_page(request, "webui/runbook_list.html", RunbookFilter, runbooks, "name", "runbooks")


@role_required("edit_runbooks")
def runbook_new(request):
    form = RunbookForm(
        request.POST or None,
        request.FILES or None,
        initial={"kind": "python", "timeout_seconds": 300},
        user=request.user,
    )
    if request.method == "POST" and form.is_valid():
        runbook = Runbook()
        message = form.cleaned_data["message"] or "Created"
        try:
            versions.save_runbook(runbook, form.runbook_data(), actor_of(request), author=request.user, message=message)
        except secret_store.SecretScopeError as exc:  # a scope changed since the form validated
            form.add_error("secrets", exc.messages)
        except environments.ResolveError as exc:  # uv's answer comes at save
            form.add_error("requirements", exc.message)
        else:
            messages.success(request, f"Runbook {runbook.name} created.")
            return redirect("runbook_detail", slug=runbook.slug)
    return render(request, "webui/runbook_form.html", {"form": form})


@role_required("edit_runbooks")
def runbook_edit(request, slug):
    runbook = _runbook(slug)
    current = runbook.current_version
    latest = runbook.pending_version or current  # edits build on the draft under review
    initial = {
        "name": runbook.name,
        "description": runbook.description,
        "team": runbook.team,
        "tags": runbook.tags,
        "requires_approval": runbook.requires_approval,
        "protected": runbook.protected,
        **latest.fields(),
        "requirements": "\n".join(latest.requirements),
    }
    if initial["queue"] == DEFAULT_QUEUE:
        initial["queue"] = ""
    form = RunbookForm(request.POST or None, request.FILES or None, initial=initial, runbook=runbook, user=request.user)
    if runbook.protected and not roles.may(request.user, "unprotect_runbooks"):
        # Disabled: the browser's value is ignored, the runbook stays protected.
        form.fields["protected"].disabled = True
        form.fields["protected"].help_text = "Only an admin can switch review off."
        if runbook.requires_approval:
            form.fields["requires_approval"].disabled = True
            form.fields["requires_approval"].help_text = "Only an admin can switch approval off on a protected runbook."
    if request.method == "POST" and form.is_valid():
        try:
            version = versions.save_runbook(
                runbook,
                form.runbook_data(),
                actor_of(request),
                author=request.user,
                message=form.cleaned_data["message"],
            )
        except secret_store.SecretScopeError as exc:  # a scope changed since the form validated
            form.add_error("secrets", exc.messages)
        except environments.ResolveError as exc:  # uv's answer comes at save
            form.add_error("requirements", exc.message)
        else:
            _saved_message(request, runbook, version, latest)
            return redirect("runbook_detail", slug=runbook.slug)
    return render(
        request,
        "webui/runbook_form.html",
        {"form": form, "runbook": runbook, "next_number": _latest_number(runbook) + 1},
    )


@role_required("read", post="run")
def runbook_detail(request, slug):
    runbook = _runbook(slug)
    version = runbook.current_version
    form = ParametersForm(version.parameters, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            execution = runs.request_run(runbook, form.parameters, request.user, actor_of(request), request=request)
        except params.ParameterError as exc:  # the form validated the same way; kept for safety
            form.add_error(None, str(exc))
        else:
            return redirect("execution_detail", pk=execution.pk)
    existing = set(Secret.objects.filter(name__in=version.secrets).values_list("name", flat=True))
    allowed = set(Secret.objects.filter(name__in=existing, allowed_runbooks=runbook).values_list("name", flat=True))
    return render(
        request,
        "webui/runbook_detail.html",
        {
            "runbook": runbook,
            "version": version,
            "form": form,
            "missing_secrets": [name for name in version.secrets if name not in existing],
            # Declared when they allowed it; an admin narrowed them since: runs fail.
            "refused_secrets": [name for name in version.secrets if name in existing and name not in allowed],
            "executions": _recent_runs(runbook),
            "pending": runbook.pending_version,
        },
    )


@role_required("read")
def version_list(request, slug):
    runbook = _runbook(slug)
    versions = (
        RunbookVersion.objects.filter(runbook=runbook)
        .select_related("author", "approved_by")
        .annotate(runs=Count("executions"))
    )
    rows, links = pagination.page(request, versions, "-number", VERSIONS_PAGE)
    return render(
        request,
        "webui/runbook_versions.html",
        {
            "runbook": runbook,
            "versions": rows,
            **links,
            "numbers": range(_latest_number(runbook), 0, -1),
        },
    )


@role_required("read")
def version_detail(request, slug, number):
    runbook = _runbook(slug)
    version = _version(runbook, number)
    return render(
        request,
        "webui/runbook_version.html",
        {"runbook": runbook, "version": version, **_review_context(request, runbook, version)},
    )


def _review_context(request, runbook: Runbook, version: RunbookVersion) -> dict:
    """Whether `version` waits for review, and whether this user may approve it."""
    pending = version.pk == runbook.pending_version_id
    return {
        "pending": pending,
        "may_approve": pending
        and roles.may(request.user, "approve_versions")
        and review.may_approve(version, request.user),
    }


@role_required("approve_versions")
@require_POST
def version_approve(request, slug, number):
    runbook = _runbook(slug)
    version = _version(runbook, number)
    try:
        review.approve_version(runbook, version, request.user, actor_of(request), request=request)
    except review.ReviewRefused as exc:
        return refusals.to_page(request, exc, redirect("runbook_version", slug=runbook.slug, number=version.number))
    messages.success(request, f"Approved v{version.number}: new runs of {runbook.name} use it.")
    return redirect("runbook_detail", slug=runbook.slug)


@role_required("edit_runbooks")
@require_POST
def version_restore(request, slug, number):
    runbook = _runbook(slug)
    old = _version(runbook, number)
    latest = runbook.pending_version or runbook.current_version
    try:
        version = versions.restore_version(runbook, old, actor_of(request), author=request.user)
    except secret_store.SecretScopeError as exc:
        messages.error(request, f"Version {old.number} was not restored: {exc}.")
        return redirect("runbook_version", slug=runbook.slug, number=old.number)
    if version.pk == latest.pk:
        messages.info(request, f"Version {old.number} has the same content as the latest one; nothing changed.")
    elif version.number < latest.number:
        messages.info(request, f"v{old.number} is the content in use: v{latest.number}, which waited, was withdrawn.")
    elif version.pk == runbook.pending_version_id:
        messages.warning(
            request,
            f"Restored version {old.number} as version {version.number}; it waits for another author's approval.",
        )
    else:
        messages.success(request, f"Restored version {old.number} as version {version.number}.")
    return redirect("runbook_detail", slug=runbook.slug)


@role_required("read")
def version_diff(request, slug):
    """Two versions side by side: `?from=N&to=M` (default: the one before the
    current version, and the current one)."""
    runbook = _runbook(slug)
    latest = _latest_number(runbook)
    try:
        to_number = int(request.GET.get("to") or latest)
        from_number = int(request.GET.get("from") or max(to_number - 1, 1))
    except ValueError:
        return _bad_diff(request, runbook, "Version numbers are whole numbers.")
    if not (1 <= from_number <= latest and 1 <= to_number <= latest):  # also keeps huge numbers out of SQL
        return _bad_diff(request, runbook, f"{runbook.name} has versions 1 to {latest}.")
    found = {
        v.number: v
        for v in RunbookVersion.objects.select_related("author", "approved_by").filter(
            runbook=runbook, number__in=[from_number, to_number]
        )
    }
    if from_number not in found or to_number not in found:
        return _bad_diff(request, runbook, f"{runbook.name} has versions 1 to {latest}.")
    before, after = found[from_number], found[to_number]
    return render(
        request,
        "webui/runbook_diff.html",
        {
            "runbook": runbook,
            "before": before,
            "after": after,
            "numbers": range(latest, 0, -1),
            **_review_context(request, runbook, after),
            "script_rows": diff.side_by_side(before.script, after.script),
            "parameter_rows": diff.side_by_side(_pretty(before.parameters), _pretty(after.parameters)),
            "settings": [
                (label, getattr(before, name), getattr(after, name))
                for label, name in (
                    ("Kind", "kind"),
                    ("Timeout (seconds)", "timeout_seconds"),
                    ("Secrets", "secrets"),
                    ("Queue", "queue"),
                )
            ],
        },
    )


def _bad_diff(request, runbook, reason: str):
    return render(
        request,
        "webui/runbook_diff.html",
        {"runbook": runbook, "error": reason, "numbers": range(_latest_number(runbook), 0, -1)},
        status=400,
    )


def _pretty(schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False)
