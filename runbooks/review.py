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


def writers(version: RunbookVersion) -> set:
    """Whoever wrote any of the content `version` would take into use: the
    authors of every version since the one in use, not only the last one.
    Otherwise a co-author's one-line change (a timeout) would make a
    version "by" them that holds another author's unreviewed code, and
    that author could approve it. (Withdrawn drafts in between count too:
    stricter than needed, never looser.)"""
    current = version.runbook.current_version
    since = RunbookVersion.objects.filter(runbook_id=version.runbook_id, number__lte=version.number)
    if current is not None:
        since = since.filter(number__gt=current.number)
    return set(since.exclude(author=None).values_list("author_id", flat=True))


def may_approve(version: RunbookVersion, user) -> bool:
    """Four eyes: no one who wrote any of a pending version's content since
    the version in use may approve it. A version of imported content only
    (no author, from `import_runbooks`) may be approved by any author."""
    return user.pk not in writers(version)


def approve_version(runbook: Runbook, version: RunbookVersion, user, actor: trail.Actor, request=None) -> Runbook:
    if runbook.pending_version_id != version.pk:
        raise ReviewRefused(f"v{version.number} of {runbook.slug} is not waiting for approval.")
    if not may_approve(version, user):
        raise ReviewRefused(
            f"You wrote part of v{version.number} (a version since v{runbook.current_version.number}, which is "
            "in use): an author who wrote none of it must approve it.",
            FORBIDDEN,
        )
    now = timezone.now()
    previous = runbook.current_version
    with transaction.atomic():
        # Conditional: a newer draft saved meanwhile replaced this one, and
        # then this approval must not take the older draft into use.
        # The runbook's copy of the policy moves with it (versions.adopt).
        moved = Runbook.objects.filter(pk=runbook.pk, pending_version=version).update(
            current_version=version, pending_version=None, updated_at=now, **version.policy()
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
