"""The audit trail: the list, and verifying the chain."""

from django.conf import settings
from django.shortcuts import redirect, render

from accounts import roles
from accounts.authentication import actor_of
from audit import checkpoints, checks
from audit.filters import AuditPageFilter
from audit.models import AuditEntry
from webui.access import role_required
from webui.filters import list_page
from webui.htmx import vary_on_htmx


def _latest_checkpoint():
    """The newest note in the folder, read but not signature-checked (the
    web has no key; audit_verify checks them) and its problem if unreadable."""
    try:
        return checkpoints.latest(), ""
    except checkpoints.CheckpointError as exc:
        return None, str(exc)


@role_required("read")
def audit_list(request):
    checkpoint, problem = _latest_checkpoint()
    return list_page(
        request,
        "webui/audit_list.html",
        AuditPageFilter,
        AuditEntry.objects.all(),
        "-seq",
        "entries",
        check=checks.latest(),
        may_verify=roles.may(request.user, "verify_audit"),
        checkpoint=checkpoint,
        checkpoint_problem=problem,
        checkpoints_configured=bool(settings.STEWARD_AUDIT_CHECKPOINT_DIR),
    )


@role_required("read", post="verify_audit")
def audit_verify(request):
    """POST: go on with the check (or start one) for a few seconds. htmx gets
    the chain-state fragment, which posts again while the check runs; a plain
    POST or GET gets the full audit page."""
    if request.method != "POST":
        return redirect("audit_list")
    check = checks.verify(actor_of(request))
    if not request.htmx:  # the form without JavaScript: the page shows the check
        return vary_on_htmx(redirect("audit_list"))
    return vary_on_htmx(render(request, "webui/audit_list.html#chain-state", {"check": check, "may_verify": True}))
