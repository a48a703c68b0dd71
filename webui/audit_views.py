"""The audit page: every change, filtered, newest first; the chain checked
on request (walking a long trail is not for every page view)."""

from django.shortcuts import render

from audit import trail
from audit.filters import AuditPageFilter
from audit.models import AuditEntry
from webui.access import role_required
from webui.filters import list_page


@role_required("read")
def audit_list(request):
    return list_page(request, "webui/audit_list.html", AuditPageFilter, AuditEntry.objects.all(), "-seq", "entries")


@role_required("read")
def audit_verify(request):
    return render(request, "webui/audit_list.html#chain-state", {"result": trail.verify()})
