"""Runbooks as code: one folder per runbook, holding a `runbook.yaml`
manifest and the script, so teams can keep runbooks in git and sync them
(`manage.py import_runbooks DIR`, `manage.py export_runbooks DIR`).

    disk-usage-report/
        runbook.yaml    name, slug, description, team, tags, kind, parameters,
                        timeout_seconds, secrets, queue, run policy, script
        runbook.py      the script (runbook.sh for a shell runbook)
        requirements.txt  a Python runbook's libraries, one PEP 508 line
                        each (or `requirements:` in the manifest, a list)

The folder is the truth: a field the manifest leaves out takes its default.
`network` left out means `egress`, what every runbook had before the field
existed (as in the version's canonical JSON); write `network: none` for a
runbook that needs no network, and only an admin's API call sets `host`.
Only review stays with Steward: a folder cannot mark a runbook protected or
unprotected, and an import into a protected runbook makes a pending version
that a second author approves like any other edit. The run policy is version
content, so a policy change is a new version too. An import never loosens a
protected runbook: a folder that leaves `requires_approval` out keeps it on,
and one that says `requires_approval: false` is refused, naming the field
(only an admin may switch it off, through the API or the page).
Importing validates every folder first, with the API's own rules (a
runbook declares only secrets that allow it), and writes nothing unless all
of them are valid; a runbook whose content is unchanged
gets no new version (and no audit entry).
"""

import os
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.db import transaction

from audit import trail
from runbooks import environments, secret_store, validation, versions
from runbooks.models import DEFAULT_QUEUE, UNSTATED_NETWORK, Runbook, RunbookVersion
from runbooks.runners import KINDS

MANIFEST = "runbook.yaml"
RUNBOOK_FIELDS = ("name", "description", "team", "tags")
VERSION_FIELDS = ("kind", "parameters", "timeout_seconds", "secrets", "queue", "network")
KNOWN_KEYS = {"slug", "script", "requirements", *RUNBOOK_FIELDS, *VERSION_FIELDS, *Runbook.POLICY_FIELDS}
REQUIREMENTS_FILE = "requirements.txt"


class ManifestError(Exception):
    """One or more folders are not valid runbooks; nothing was imported."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Entry:
    folder: Path
    slug: str
    data: dict  # validated: what versions.save_runbook takes


def script_filename(kind: str) -> str:
    return KINDS[kind].FILENAME


# --- Reading ------------------------------------------------------------------


def find_folders(root: Path) -> list[Path]:
    """The folders of `root` holding a manifest (`root` itself if it has one)."""
    if (root / MANIFEST).is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / MANIFEST).is_file())


def read(root: Path) -> list[Entry]:
    """Every runbook under `root`, validated; ManifestError lists all problems."""
    if not root.is_dir():
        raise ManifestError([f"{root}: not a folder"])
    folders = find_folders(root)
    if not folders:
        raise ManifestError([f"{root}: no folder with a {MANIFEST} in it"])
    entries, problems, seen = [], [], {}
    for folder in folders:
        try:
            entry = read_folder(folder)
        except ManifestError as exc:
            problems.extend(exc.problems)
            continue
        if entry.slug in seen:
            problems.append(f"{folder}: slug {entry.slug!r} is also the slug of {seen[entry.slug]}")
            continue
        seen[entry.slug] = folder
        entries.append(entry)
    if problems:
        raise ManifestError(problems)
    return entries


def read_folder(folder: Path) -> Entry:
    path = folder / MANIFEST
    try:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ManifestError([f"{path}: not valid YAML: {_yaml_problem(exc)}"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError([f"{path}: cannot be read: {exc}"]) from None
    if not isinstance(manifest, dict):
        raise ManifestError([f"{path}: must be a mapping of fields (name: ..., kind: ...)"])
    unknown = sorted(set(manifest) - KNOWN_KEYS)
    if unknown:
        raise ManifestError([f"{path}: unknown field(s) {', '.join(map(str, unknown))}"])
    problems = []
    slug = str(manifest.get("slug") or folder.name)
    kind = manifest.get("kind")
    script_name = manifest.get("script") or (script_filename(kind) if kind in KINDS else None)
    script = None
    if script_name is None:
        problems.append(f"{path}: kind must be one of {', '.join(KINDS)}")
    elif not isinstance(script_name, str) or os.path.basename(script_name) != script_name:
        problems.append(f"{path}: script must be a file name in the runbook's folder")
    else:
        try:
            script = (folder / script_name).read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(f"{folder}: the script {script_name} is missing")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{folder / script_name}: cannot be read as UTF-8 text: {exc}")
    data = {name: manifest[name] for name in (*RUNBOOK_FIELDS, *VERSION_FIELDS) if name in manifest}
    data["slug"] = slug
    data["script"] = script if script is not None else ""
    data["requirements"] = _requirements(folder, manifest, problems)
    data.setdefault("network", UNSTATED_NETWORK)
    existing = Runbook.objects.select_related("current_version").filter(slug=slug).first()
    protected = existing is not None and existing.current_version is not None and existing.current_version.protected
    for name in Runbook.POLICY_FIELDS:  # the folder is the truth: absent means the default...
        data[name] = manifest.get(name, RunbookVersion.UNSTATED[name])
    if protected and "requires_approval" not in manifest:
        # ...except what guards a protected runbook, which silence never loosens.
        data["requires_approval"] = existing.current_version.requires_approval
    try:
        validated = validation.runbook(data, existing)
    except validation.Refused as exc:
        problems.extend(f"{path}: {field}: {message}" for field, message in exc.problems)
    if problems:
        raise ManifestError(problems)
    validated.pop("slug", None)
    validated.pop("message", None)
    validated["queue"] = validated.get("queue") or DEFAULT_QUEUE
    return Entry(folder, slug, validated)


def _requirements(folder: Path, manifest: dict, problems: list[str]) -> list:
    """The manifest's `requirements`, or the lines of requirements.txt beside
    the script (comments and blank lines dropped); none when neither is there."""
    path = folder / REQUIREMENTS_FILE
    if "requirements" in manifest:
        if path.exists():
            problems.append(f"{folder}: requirements in both {MANIFEST} and {REQUIREMENTS_FILE}: keep one")
        return manifest["requirements"] if manifest["requirements"] is not None else []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{path}: cannot be read as UTF-8 text: {exc}")
        return []
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def _flatten(errors) -> str:
    if isinstance(errors, dict):
        return "; ".join(f"{key}: {_flatten(value)}" for key, value in errors.items())
    if isinstance(errors, list):
        return "; ".join(_flatten(item) for item in errors)
    return str(errors)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


# --- Importing ----------------------------------------------------------------


def planned(runbook: Runbook | None, data: dict) -> tuple[str, list[str]]:
    """What importing `data` would do to `runbook` (None: it does not exist):
    ("created", []), ("new version", the content fields that differ),
    ("updated", the runbook fields that differ, no new version)
    or ("unchanged", []). The import and its dry run both decide by this."""
    if runbook is None:
        return "created", []
    current = runbook.pending_version or runbook.current_version  # the latest saved content
    if current is None:
        return "new version", []
    content = versions.version_content(data, current)
    if not current.same_content(content):
        before = current.fields()
        return "new version", [name for name in RunbookVersion.CONTENT_FIELDS if content[name] != before[name]]
    fields = [name for name in RUNBOOK_FIELDS if name in data and getattr(runbook, name) != data[name]]
    return ("updated" if fields else "unchanged"), fields


def plan(entries: list[Entry]) -> list[tuple[str, str]]:
    """(slug, what importing would do) for each entry; writes nothing."""
    runbooks = {
        r.slug: r
        for r in Runbook.objects.select_related("current_version", "pending_version").filter(
            slug__in=[e.slug for e in entries]
        )
    }
    report = []
    for entry in entries:
        runbook = runbooks.get(entry.slug)
        what, fields = planned(runbook, entry.data)
        if what == "created":
            report.append((entry.slug, "would be created (v1)"))
        elif what == "new version":
            waits = ", waiting for an author's approval" if runbook.protected else ""
            changed = f" ({', '.join(fields)} changed)" if fields else ""
            report.append((entry.slug, f"would get a new version{changed}{waits}"))
        elif what == "updated":
            report.append((entry.slug, f"no new version; {', '.join(fields)} changed"))
        else:
            report.append((entry.slug, "unchanged"))
    return report


def import_entries(entries: list[Entry], actor: trail.Actor) -> list[tuple[str, str]]:
    """Save every entry in one transaction; (slug, what happened) for each."""
    report = []
    with transaction.atomic():
        for entry in entries:
            runbook = (
                Runbook.objects.select_related("current_version", "pending_version").filter(slug=entry.slug).first()
            )
            if planned(runbook, entry.data)[0] == "unchanged":
                report.append((entry.slug, "unchanged"))
                continue
            creating = runbook is None
            before = None if creating else runbook.current_version_id
            runbook = runbook or Runbook(slug=entry.slug)
            try:
                version = versions.save_runbook(
                    runbook, entry.data, actor, message=f"Imported from {entry.folder.name}/"
                )
            except secret_store.SecretScopeError as exc:  # all or nothing: the transaction ends here
                raise ManifestError([f"{entry.folder}: secrets: {problem}" for problem in exc.messages]) from None
            except environments.ResolveError as exc:  # uv's answer, at save
                raise ManifestError([f"{entry.folder}: requirements: {exc.message}"]) from None
            if creating:
                report.append((entry.slug, f"created (v{version.number})"))
            elif version.pk == runbook.pending_version_id:
                report.append((entry.slug, f"new version v{version.number}, waiting for an author's approval"))
            elif version.pk != before:
                report.append((entry.slug, f"new version v{version.number}"))
            else:
                report.append((entry.slug, "updated (same code, no new version)"))
    return report


# --- Exporting ----------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Multi-line text (a description) as a readable `|` block."""


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def manifest_of(runbook: Runbook) -> dict:
    version = runbook.current_version
    manifest = {"name": runbook.name, "slug": runbook.slug}
    manifest.update({name: getattr(runbook, name) for name in ("description", "team", "tags")})
    manifest.update({name: getattr(version, name) for name in VERSION_FIELDS})
    manifest["script"] = script_filename(version.kind)
    manifest.update({name: getattr(version, name) for name in Runbook.POLICY_FIELDS})
    if version.requirements:  # the lock is Steward's: an import resolves again
        manifest["requirements"] = version.requirements
    return manifest


def export_refusal(root: Path, app_paths: list[Path]) -> str:
    """Why runbooks must not be exported into `root`, or "": never into a
    Python package (a folder holding __init__.py, itself or above it) or
    into an app of this checkout (`app_paths`), where twelve folders of
    YAML and scripts would land among the code and ship with it."""
    target = root.expanduser().resolve()
    for folder in (target, *target.parents):
        if (folder / "__init__.py").is_file():
            return f"{root} is inside the Python package {folder}: export to a folder outside the code"
    for app in app_paths:
        if target == app or app in target.parents:
            return f"{root} is inside Steward's app {app}: export to a folder outside the code"
    return ""


def export(runbook: Runbook, root: Path) -> Path:
    """Write `root/<slug>/runbook.yaml` and the script; returns the folder."""
    folder = root / runbook.slug
    folder.mkdir(parents=True, exist_ok=True)
    manifest = manifest_of(runbook)
    text = yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    (folder / MANIFEST).write_text(text, encoding="utf-8")
    (folder / manifest["script"]).write_text(runbook.current_version.script, encoding="utf-8")
    for runner in KINDS.values():  # a runbook whose kind changed leaves no stale script behind
        if manifest["script"] != runner.FILENAME:
            (folder / runner.FILENAME).unlink(missing_ok=True)
    return folder
