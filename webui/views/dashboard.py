"""The dashboard: what needs a person now (running, awaiting approval,
failures, tripped bindings), then four charts over fixed recent windows."""

from django.shortcuts import render
from django.utils import timezone

from events.models import Binding
from reports import stats
from runbooks.models import Runbook
from webui import dashboard_charts
from webui.access import role_required
from webui.views.runs import Status, listed_runs


@role_required("read")
def dashboard(request):
    """What needs a person now (running, awaiting approval, failures, tripped
    bindings), then four charts over fixed recent windows."""
    now = timezone.now()
    plan = stats.Plan.load(now)  # which hours the charts read from the hourly rollups
    hours = stats.runs_per_hour(now, plan=plan)
    totals = {s.value: sum(h.counts[s.value] for h in hours) for s in Status}
    rates = stats.success_rates(now, plan=plan)
    delays = stats.alert_to_remediation(now, plan=plan)
    noisy = stats.noisiest_alerts(now, plan=plan)
    return render(
        request,
        "webui/dashboard.html",
        {
            "counts": [(s.value, totals[s.value]) for s in Status],
            "ran_today": sum(totals.values()),
            # Oldest first: the one closest to expiring leads.
            "awaiting": listed_runs()
            .filter(status=Status.AWAITING_APPROVAL)
            .select_related("requested_by")
            .order_by("created_at")[:20],
            "running": listed_runs()
            .filter(status=Status.RUNNING)
            .select_related("requested_by")
            .order_by("-started_at")[:20],
            "failures": listed_runs()
            .filter(status__in=[Status.FAILED, Status.TIMED_OUT, Status.LOST])
            .select_related("requested_by")
            .order_by("-created_at")[:10],
            "tripped": Binding.objects.filter(tripped_at__isnull=False)
            .select_related("runbook")
            .order_by("-tripped_at")[:20],
            "has_runbooks": Runbook.objects.exists(),
            "charts": dashboard_charts.build(hours, rates, delays, noisy),
            "groups": stats.GROUPS,
            "hour_rows": [
                {"label": f"{timezone.localtime(h.start):%H}:00", "values": [h.counts[s.value] for s in Status]}
                for h in hours
            ],
            "time_zone": timezone.get_current_timezone_name(),
            "rates": rates,
            "delays": delays,
            "median_delay": stats.median_bucket(delays),
            "noisy": noisy,
        },
    )
