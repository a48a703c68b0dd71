"""The machines `ssh` runbooks run on: adding, changing and removing them
(each with its audit entry), pinning host keys, importing an inventory, and
picking the targets of one run."""

import asyncio
import json

import yaml
from django.db import transaction
from django.utils import timezone

from audit import trail
from core import templating
from core.errors import Refused
from runbooks import validation
from runbooks.models import Target
from runbooks.runners import ssh


def _audited(target: Target) -> dict:
    """What the trail keeps of a target: the pinned key by its fingerprint."""
    return {
        "name": target.name,
        "address": target.address,
        "port": target.port,
        "user": target.user,
        "labels": target.labels,
        "host_key_fingerprint": ssh.fingerprint(target.host_key),
        "credential": target.credential,
    }


def create(data: dict, actor: trail.Actor, request=None) -> Target:
    target = Target(**validation.target(data))
    with transaction.atomic():
        target.save(force_insert=True)
        trail.record(
            actor, trail.Change("target.created", "target", target.name, after=_audited(target)), request=request
        )
    return target


def update(target: Target, data: dict, actor: trail.Actor, request=None) -> Target:
    """Change a target; a new host key is a re-pin, audited as its own action."""
    cleaned = validation.target(data, target)
    with transaction.atomic():
        before = _audited(Target.objects.select_for_update().get(pk=target.pk))
        for name, value in cleaned.items():
            setattr(target, name, value)
        target.updated_at = timezone.now()
        target.save()
        after = _audited(target)
        action = (
            "target.host_key_pinned"
            if before["host_key_fingerprint"] != after["host_key_fingerprint"]
            else "target.updated"
        )
        trail.record(actor, trail.Change(action, "target", target.name, before=before, after=after), request=request)
    return target


def delete(target: Target, actor: trail.Actor, request=None) -> None:
    with transaction.atomic():
        before = _audited(target)
        target.delete()
        trail.record(actor, trail.Change("target.deleted", "target", before["name"], before=before), request=request)


def scan(address: str, port: int) -> dict:
    """The host key `address:port` presents now, for a person to compare
    with the machine's own (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`)
    before pinning it. Refused (400) when nothing answers."""
    try:
        key = asyncio.run(ssh.fetch_host_key(address, port))
    except (OSError, TimeoutError, ssh.asyncssh.Error) as exc:
        raise Refused(
            f"Cannot fetch the host key of {address}:{port}: {exc or type(exc).__name__}.", "address"
        ) from None
    return {"address": address, "port": port, "host_key": key, "fingerprint": ssh.fingerprint(key)}


# --- import_targets -----------------------------------------------------------


def parse_inventory(text: str) -> list[dict]:
    """A YAML or JSON list of targets, or a Prometheus file_sd list of
    `{targets: ["host:port", ...], labels: {...}}` groups (each address a
    target named by its host; `__meta`-style labels of Steward's own,
    `__user__`, `__credential__`, `__host_key__`, fill the target's fields)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Refused(f"not YAML or JSON: {exc}") from None
    if isinstance(doc, dict) and isinstance(doc.get("targets"), list):
        doc = doc["targets"]
    if not isinstance(doc, list):
        raise Refused("an inventory is a list of targets (or of file_sd groups)")
    rows = []
    for item in doc:
        if not isinstance(item, dict):
            raise Refused(f"each entry is an object, not {json.dumps(item)[:80]}")
        if isinstance(item.get("targets"), list):
            labels = dict(item.get("labels") or {})
            own = {
                key: labels.pop(f"__{key}__") for key in ("user", "credential", "host_key") if f"__{key}__" in labels
            }
            for address in item["targets"]:
                host = templating.host_of(str(address))
                rows.append({"name": host, "address": host, "port": 22, "labels": labels, **own})
        else:
            rows.append(item)
    return rows


def import_inventory(rows: list[dict], actor: trail.Actor) -> tuple[int, int]:
    """Create or update each target by name, all or nothing. (created, updated)."""
    created = updated = 0
    with transaction.atomic():
        for i, row in enumerate(rows, 1):
            existing = Target.objects.filter(name=row.get("name")).first()
            try:
                if existing:
                    update(existing, row, actor)
                    updated += 1
                else:
                    create(row, actor)
                    created += 1
            except Refused as exc:  # say which entry, then roll every one back
                where = f"entry {i} ({row.get('name') or 'no name'})"
                raise Refused(problems=[(f"{where} {f or ''}".strip(), m) for f, m in exc.problems]) from None
    return created, updated


# --- selecting the targets of a run ----------------------------------------------


def select(spec: dict, context: dict) -> tuple[list[Target], list[str]]:
    """The targets a run with this spec goes to, in name order, and the
    names it asked for that match none (each a failed target). Every given
    criterion narrows: a selector, names, and the host the event names."""
    found = Target.objects.all()
    missing: list[str] = []
    if spec.get("selector"):
        for key, value in validation.selector(spec["selector"]).items():
            found = found.filter(**{f"labels__{key}": value})
    chosen = list(found.order_by("name"))
    if spec.get("names"):
        wanted = list(dict.fromkeys(spec["names"]))
        by_name = {t.name: t for t in chosen}
        missing += [name for name in wanted if name not in by_name]
        chosen = [by_name[name] for name in wanted if name in by_name]
    if spec.get("from_event"):
        host = str(templating.render(spec["from_event"], context)).strip()
        matching = [t for t in chosen if host in (t.name, t.address)]
        if not matching:
            missing.append(host or "(the template rendered nothing)")
        chosen = matching
    return chosen, missing
