"""Deployment gates and their recent checks."""

from django.db.models import F, Prefetch, Window
from django.db.models.functions import RowNumber
from django.shortcuts import render

from gates import services
from gates.models import Check, Gate
from webui.access import role_required

RECENT = 10


@role_required("read")
def gate_list(request):
    gates = list(Gate.objects.prefetch_related("runbooks").order_by("name"))
    # The last RECENT checks of every gate in one query (a window per gate).
    checks = (
        Check.objects.filter(gate__in=gates)
        .annotate(rank=Window(RowNumber(), partition_by=[F("gate_id")], order_by=F("created_at").desc()))
        .filter(rank__lte=RECENT)
        .select_related("gate", "overridden_by")
        .prefetch_related(Prefetch("executions", to_attr="runs"))
        .order_by("-created_at")
    )
    by_gate: dict[int, list[Check]] = {}
    for check in checks:
        by_gate.setdefault(check.gate_id, []).append(services.refresh(check) if check.verdict is None else check)
    return render(request, "webui/gate_list.html", {"gates": [(g, by_gate.get(g.pk, [])) for g in gates]})
