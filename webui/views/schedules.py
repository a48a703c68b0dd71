"""Schedules: the list (they are changed through the API)."""

from django.shortcuts import render

from runbooks.models import Schedule
from webui.access import role_required


@role_required("read")
def schedule_list(request):
    return render(request, "webui/schedule_list.html", {"schedules": Schedule.objects.select_related("runbook")})
