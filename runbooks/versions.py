"""Saving runbooks and their versions: every caller (the API, the pages,
the importer, the demo) saves through save_runbook, which holds the policy
rules a save must pass, and review takes a pending version into use
(runbooks/review.py holds who may approve it)."""

from django.db import transaction
from django.db.models import Max

from audit import trail
from core.slugs import unique_slug
from runbooks import environments, secret_store, validation
from runbooks.models import DEFAULT_NETWORK, DEFAULT_QUEUE, Runbook, RunbookVersion


def version_content(data: dict, current: RunbookVersion | None = None) -> dict:
    """Every field of the next version: `data` over the current one. (Its
    sha256 is over `RunbookVersion.canonical()` of this.)"""
    base = current.fields() if current else {**NEW_VERSION, **RunbookVersion.UNSTATED, "network": DEFAULT_NETWORK}
    content = {name: data.get(name, base[name]) for name in RunbookVersion.CONTENT_FIELDS}
    content["queue"] = content["queue"] or DEFAULT_QUEUE
    content["network"] = content["network"] or base["network"]
    # The lock is never a caller's: it is what the requirements resolved to
    # (see with_lock), so it cannot claim files the resolver did not pick.
    content["requirements_lock"] = base["requirements_lock"]
    return content


def with_lock(content: dict, latest: RunbookVersion | None, known: RunbookVersion | None = None) -> dict:
    """`content` with its requirements' lock: the latest version's (or
    `known`'s, a restored one) when the lines are the same, so saving
    again neither re-resolves nor makes a new version; else resolved now
    with uv (environments.ResolveError, a 400 naming the line)."""
    lines = environments.check_lines(content["requirements"]) if content["kind"] == "python" else []
    if content["kind"] != "python" and content["requirements"]:
        raise validation.Refused("only a Python runbook has requirements", "requirements")
    for source in (known, latest):
        if source is not None and source.requirements == lines:
            return {**content, "requirements": lines, "requirements_lock": source.requirements_lock}
    return {**content, "requirements": lines, "requirements_lock": environments.resolve(lines)}


NEW_VERSION = {
    "kind": "python",
    "script": "",
    "parameters": {},
    "timeout_seconds": 300,
    "secrets": [],
    "queue": "",
}
# The runbook's own fields; everything else a save takes is version content.
RUNBOOK_FIELDS = ("name", "description", "tags", "team")


def save_runbook(
    runbook: Runbook, data: dict, actor: trail.Actor, author=None, message="", restoring: RunbookVersion | None = None
) -> RunbookVersion:
    """Save runbook fields and, when the content changed, a new version.

    `runbook` may be unsaved (a new runbook). The content is every field that
    changes what runs or how (RunbookVersion.CONTENT_FIELDS: the code and the
    run policy, requires_approval and protected too); saving the same content
    again makes no new version. On a protected runbook the new version waits
    in `pending_version` for another author (runbooks/review.py) and runs
    keep using the current one, policy included; whether the runbook was
    protected *before* this save decides, so switching protection off and
    changing the code in one request is still reviewed.

    The policy rules hold here, for every caller (API, pages, importer,
    demo): the network mode (validation.network), and switching approval or
    review off on a protected runbook, an admin's alone (validation.loosening).
    They raise core.errors.Refused (403) and nothing is saved. Requirements
    that changed are resolved into a lock with uv (environments.resolve):
    one that cannot be raises environments.ResolveError (400), nothing saved.
    A new version
    declaring a secret that does not allow the runbook raises
    secret_store.SecretScopeError, and nothing is saved either.
    Returns the new version (or the unchanged latest one).
    """
    creating = runbook.pk is None
    with transaction.atomic():
        before, reviewed = None, False
        if not creating:
            # Read the versions under a lock: a review approving a version
            # meanwhile must not be overwritten by this save.
            # (of "self": PostgreSQL locks no row of a nullable outer join.)
            locked = Runbook.objects.select_for_update(of=("self",)).select_related(
                "current_version", "pending_version"
            )
            locked = locked.get(pk=runbook.pk)
            runbook.current_version, runbook.pending_version = locked.current_version, locked.pending_version
            before = _audited(locked)
            # With nothing in use yet there is no approved version to fall back to.
            reviewed = locked.current_version is not None and locked.current_version.protected
        # Edits build on the draft waiting for review, if there is one.
        latest = None if creating else (runbook.pending_version or runbook.current_version)
        content = with_lock(version_content(data, latest), latest, restoring)
        # The policy rules for every caller: they check them first, to answer
        # in their own terms; this is the backstop.
        validation.network(content["network"], author, latest.network if latest else None)
        validation.targets_spec(content["targets"], content["kind"])
        validation.loosening(runbook.current_version.fields() if reviewed else None, content, author)
        changed = [name for name in RUNBOOK_FIELDS if name in data]
        for name in changed:
            setattr(runbook, name, data[name])
        if creating and not runbook.slug:
            runbook.slug = unique_slug(Runbook, runbook.name, "runbook")
        if creating:
            runbook.save()
        else:
            # Only what this save sets (and the slug, which the API may rename).
            runbook.save(update_fields=["slug", *changed, "updated_at"])
        version = latest
        if latest is None or not latest.same_content(content):
            if reviewed and runbook.current_version.same_content(content):
                # Back to what runs already: the draft is withdrawn, nothing to review.
                version, runbook.pending_version = runbook.current_version, None
            else:
                # Every new version, whoever makes it (a restore too): a
                # declaration out of scope raises SecretScopeError and the
                # transaction leaves nothing behind.
                secret_store.check_scope(runbook, content["secrets"])
                version = RunbookVersion(
                    runbook=runbook, number=_next_number(runbook), author=author, message=message, **content
                )
                version.save()
                if reviewed:
                    runbook.pending_version = version
                else:
                    adopt(runbook, version)
                    runbook.pending_version = None
            runbook.save(
                update_fields=["current_version", "pending_version", *RunbookVersion.POLICY_FIELDS, "updated_at"]
            )
        trail.record(
            actor,
            trail.Change(
                "runbook.created" if creating else "runbook.updated",
                "runbook",
                runbook.slug,
                before=before,
                after=_audited(runbook),
            ),
        )
    return version


def adopt(runbook: Runbook, version: RunbookVersion) -> None:
    """Make `version` the one runs use. The runbook keeps a copy of its
    policy for the readers that ask the runbook (the worker's retries and
    concurrency slots, the pages); it is written here and nowhere else, so it
    is always the current version's. The caller saves."""
    runbook.current_version = version
    for name in RunbookVersion.POLICY_FIELDS:
        setattr(runbook, name, getattr(version, name))


def _next_number(runbook: Runbook) -> int:
    """After the highest number ever used: a withdrawn draft keeps its number."""
    return (RunbookVersion.objects.filter(runbook=runbook).aggregate(n=Max("number"))["n"] or 0) + 1


def _audited(runbook: Runbook) -> dict:
    """What the audit trail keeps of a runbook: its name, versions and policy."""
    version, pending = runbook.current_version, runbook.pending_version
    return {
        "name": runbook.name,
        "version": version.number if version else None,
        "sha256": version.sha256 if version else None,
        "pending_version": pending.number if pending else None,
        **{name: getattr(runbook, name) for name in RunbookVersion.POLICY_FIELDS},
    }


def restore_version(runbook: Runbook, version: RunbookVersion, actor: trail.Actor, author=None) -> RunbookVersion:
    """Make an old version's content current again, as a new version (the
    history stays as it was). Returns the current version: the same one when
    its content already equals the old version's. On a protected runbook the
    restored content waits for review like any other edit."""
    return save_runbook(
        runbook, version.fields(), actor, author=author, message=f"Restored v{version.number}", restoring=version
    )
