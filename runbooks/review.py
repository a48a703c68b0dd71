"""Reviewed runbooks: a protected runbook's new version waits in
`pending_version` until an author other than the version's own approves
it; until then every new run uses `current_version`, the last approved one
(versions.save_runbook puts new versions there)."""

from django.db import transaction
from django.utils import timezone

from audit import trail
from core.errors import CONFLICT, FORBIDDEN, Refused
from runbooks.models import Runbook, RunbookVersion


class ReviewRefused(Refused):
    """Why an approval did nothing: the version's state (a conflict), or the
    four-eyes rule (forbidden)."""

    def __init__(self, message: str, kind: str = CONFLICT):
        super().__init__(message, kind=kind)


def may_approve(version: RunbookVersion, user) -> bool:
    """Four eyes: the author of a version cannot approve it. A version with
    no author (imported by `import_runbooks`) may be approved by any author."""
    return version.author_id is None or version.author_id != user.pk


def approve_version(runbook: Runbook, version: RunbookVersion, user, actor: trail.Actor, request=None) -> Runbook:
    if runbook.pending_version_id != version.pk:
        raise ReviewRefused(f"v{version.number} of {runbook.slug} is not waiting for approval.")
    if not may_approve(version, user):
        raise ReviewRefused(f"You saved v{version.number}: another author must approve it.", FORBIDDEN)
    now = timezone.now()
    previous = runbook.current_version
    with transaction.atomic():
        # Conditional: a newer draft saved meanwhile replaced this one, and
        # then this approval must not take the older draft into use.
        moved = Runbook.objects.filter(pk=runbook.pk, pending_version=version).update(
            current_version=version, pending_version=None, updated_at=now
        )
        if not moved:
            raise ReviewRefused(f"v{version.number} of {runbook.slug} is no longer waiting for approval.")
        RunbookVersion.objects.filter(pk=version.pk, approved_at__isnull=True).update(approved_by=user, approved_at=now)
        trail.record(
            actor,
            trail.Change(
                "runbook.version_approved",
                "runbook",
                runbook.slug,
                before={"version": previous.number if previous else None},
                after={"version": version.number, "sha256": version.sha256, "author": _name(version.author)},
            ),
            request=request,
        )
    runbook.refresh_from_db()
    return runbook


def _name(user) -> str | None:
    return user.get_username() if user else None
