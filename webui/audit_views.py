"""The audit page: every change, filtered, newest first; the chain checked
on request (walking a long trail is not for every page view)."""

from django.shortcuts import render
from rest_framework.exceptions import ValidationError

from audit import trail
from audit.api import filtered
from audit.models import AuditEntry
from webui.access import role_required

PAGE = 50


@role_required("read")
def audit_list(request):
    error = ""
    try:
        entries = filtered(AuditEntry.objects.all(), request.GET)
    except ValidationError as exc:
        entries, error = AuditEntry.objects.none(), "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.detail.items())
    before = request.GET.get("before", "")
    if before.isdigit():
        entries = entries.filter(seq__lt=int(before))
    rows = list(entries.order_by("-seq")[: PAGE + 1])
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "webui/audit_list.html",
        {
            "entries": rows,
            "error": error,
            "filters": request.GET,
            "query": query.urlencode(),
            "next_before": rows[-1].seq if more else None,
        },
    )


@role_required("read")
def audit_verify(request):
    return render(request, "webui/audit_list.html#chain-state", {"result": trail.verify()})
