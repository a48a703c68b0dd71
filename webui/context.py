"""What every page shows beside its own content."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from runbooks.models import Worker


def _uncontained() -> bool:
    if settings.STEWARD_SANDBOX == "process":
        return True
    seen = timezone.now() - timedelta(seconds=settings.STEWARD_WORKER_SEEN_SECONDS)
    return Worker.objects.filter(sandbox="process", stopped_at__isnull=True, last_seen_at__gte=seen).exists()


def containment(request) -> dict:
    """`uncontained`: a live worker (or this process's settings) runs
    runbooks without the namespace sandbox (STEWARD_SANDBOX=process). Asked
    only when a page renders it: one indexed query, for logged-in pages."""
    return {"uncontained": SimpleLazyObject(_uncontained)}
