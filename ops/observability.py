"""/healthz for load balancers and /metrics for Prometheus.

Execution and event figures are read from the database at scrape time (the
database is the truth, and it is shared by every process); the webhook's
latency is measured in process by prometheus_client, aggregated across
gunicorn workers through PROMETHEUS_MULTIPROC_DIR (set in gunicorn.conf.py).
"""

import functools
import ipaddress
import os
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from prometheus_client import CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.utils import floatToGoString
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import BearerTokenAuthentication
from core.clients import client_address
from events.models import Event
from runbooks.models import Execution, Worker

DURATION_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)

WEBHOOK_SECONDS = Histogram(
    "steward_webhook_request_duration_seconds",
    "Time to answer a webhook request, by HTTP status.",
    ["status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def timed_webhook(view):
    """Wrap the webhook view to measure how long each answer takes."""

    @functools.wraps(view)
    def timed(request, *args, **kwargs):
        started = time.perf_counter()
        response = view(request, *args, **kwargs)
        WEBHOOK_SECONDS.labels(status=str(response.status_code)).observe(time.perf_counter() - started)
        return response

    return timed


# --- /healthz -----------------------------------------------------------------


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_broker() -> str:
    from celery import current_app as app

    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _check_workers() -> str:
    seen = timezone.now() - timedelta(seconds=settings.STEWARD_WORKER_SEEN_SECONDS)
    n = Worker.objects.filter(last_seen_at__gte=seen, stopped_at__isnull=True).count()
    if not n:
        raise RuntimeError(f"no worker seen in the last {settings.STEWARD_WORKER_SEEN_SECONDS} s")
    return f"ok ({n} seen)"


@never_cache
def healthz(request):
    """200 when the database, the broker and a worker are all there, else 503.
    Needs no login: it names no host, user or data."""
    checks, healthy = {}, True
    for name, check in (("database", _check_database), ("broker", _check_broker), ("workers", _check_workers)):
        try:
            checks[name] = check()
        except DatabaseError:
            checks[name], healthy = "unavailable", False
        except Exception as exc:
            checks[name], healthy = f"failing: {exc}" if name == "workers" else "unavailable", False
    return JsonResponse({"status": "ok" if healthy else "fail", "checks": checks}, status=200 if healthy else 503)


# --- /metrics -------------------------------------------------------------------


class DatabaseCollector:
    """Figures read from the database at each scrape."""

    def collect(self):
        by_status = dict(Execution.objects.values_list("status").annotate(n=Count("id")).order_by())
        executions = GaugeMetricFamily("steward_executions", "Executions by status.", labels=["status"])
        for status in Execution.Status.values:
            executions.add_metric([status], by_status.get(status, 0))
        yield executions

        oldest = Execution.objects.filter(status=Execution.Status.QUEUED).aggregate(t=Min("created_at"))["t"]
        age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "steward_oldest_queued_execution_age_seconds", "Age of the oldest queued execution.", value=age
        )

        events = CounterMetricFamily(
            "steward_events", "Events received, by source and kind.", labels=["source", "kind"]
        )
        for slug, kind, n in (
            Event.objects.values_list("source__slug", "source__kind").annotate(n=Count("id")).order_by()
        ):
            events.add_metric([slug or "", kind or ""], n)  # "": events of deleted sources
        yield events

        yield self._durations()

        seen = timezone.now() - timedelta(seconds=settings.STEWARD_WORKER_SEEN_SECONDS)
        workers = Worker.objects.filter(last_seen_at__gte=seen, stopped_at__isnull=True).count()
        yield GaugeMetricFamily("steward_workers", "Workers seen recently.", value=workers)

    def _durations(self):
        finished = Execution.objects.filter(started_at__isnull=False, finished_at__isnull=False).annotate(
            duration=ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        )
        counts = finished.aggregate(
            total=Count("id"),
            **{
                f"le_{i}": Count("id", filter=Q(duration__lte=timedelta(seconds=b)))
                for i, b in enumerate(DURATION_BUCKETS)
            },
        )
        buckets = [(floatToGoString(b), counts[f"le_{i}"]) for i, b in enumerate(DURATION_BUCKETS)]
        buckets.append(("+Inf", counts["total"]))
        histogram = HistogramMetricFamily(
            "steward_execution_duration_seconds", "Run time of finished executions.", labels=[]
        )
        # The sum is not kept; Prometheus's histogram_quantile needs only the buckets.
        histogram.add_metric([], buckets, sum_value=0.0)
        return histogram


def _allowed(request) -> bool:
    try:
        if BearerTokenAuthentication().authenticate(request):
            return True
    except AuthenticationFailed:
        return False
    # The client's address, not a local reverse proxy's: behind a proxy on
    # 127.0.0.1 every scraper would otherwise come from an allowed network.
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.STEWARD_METRICS_ALLOW)


@never_cache
def metrics(request):
    if not _allowed(request):
        return JsonResponse(
            {"detail": "Send an API token, or scrape from an address in STEWARD_METRICS_ALLOW."}, status=401
        )
    started = time.monotonic()
    registry = CollectorRegistry()
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_InProcess())
    try:
        registry.register(DatabaseCollector())
        body = generate_latest(registry)
    except DatabaseError:
        return JsonResponse({"detail": "The database is unavailable."}, status=503)
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["X-Scrape-Seconds"] = f"{time.monotonic() - started:.3f}"
    return response


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


class _InProcess:
    """This process's own metrics, when not under gunicorn's multiprocess mode."""

    def collect(self):
        yield from WEBHOOK_SECONDS.collect()
