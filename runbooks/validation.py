"""Every rule a runbook must pass to be saved, for every caller: the API's
serializer, the runbook form and the importer (runbooks/manifest.py). Plain
values in; a refusal names each field and its kind (core.errors.Refused):
"invalid" (400) or "forbidden" (403, the caller's role)."""

import re

from accounts import roles
from core import templating
from core.errors import FORBIDDEN, Refused, collect, refusing
from runbooks import environments, secret_store
from runbooks import parameters as params
from runbooks.models import Network, Runbook, RunbookVersion, Secret, Target
from runbooks.runners import ssh as ssh_runner

__all__ = ["MAX_SCRIPT", "QUEUE_NAME", "Refused", "network", "runbook"]

QUEUE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
MAX_SCRIPT = 256 * 1024
# (low, high) of each whole-number field, and its default where it has one.
RANGES = {
    "timeout_seconds": (1, 86400),
    "max_attempts": (1, 10),
    "retry_backoff_seconds": (0, 86400),
    "concurrency_limit": (0, 1000),
}


def network(value: str, user, current: str | None) -> str:
    """The network mode a save may set. `host` gives the runbook the
    worker's own network, control plane included, so only an admin may
    set it; keeping `host` on a runbook that has it already loosens
    nothing (an import without a user may keep it, never add it)."""
    if value not in Network.values:
        raise Refused(f"network must be one of {', '.join(Network.values)}, not {value!r}", "network")
    admin = user is not None and roles.may(user, "set_host_network")
    if value == Network.HOST and current != Network.HOST and not admin:
        raise Refused(
            "Only an admin may give a runbook the worker's own network (network: host).", "network", FORBIDDEN
        )
    return value


def loosening(current: dict | None, content: dict, user) -> None:
    """On a protected runbook (`current`: the fields of the version in use,
    None when it is not protected), switching review off or the approval
    its runs wait for is an admin's alone: otherwise an author could skip
    the second pair of eyes without touching the reviewed script. For every
    caller: an import has no user, so it can never loosen either."""
    if current is None or not current.get("protected"):
        return
    if user is not None and roles.may(user, "unprotect_runbooks"):
        return
    problems = []
    why = f" {roles.refusal(user, 'unprotect_runbooks')}" if user is not None else ""
    if content.get("protected", True) is False:
        problems.append(("protected", f"Only an admin can switch review off on a protected runbook.{why}"))
    if current.get("requires_approval") and content.get("requires_approval", True) is False:
        problems.append(("requires_approval", f"Only an admin can switch approval off on a protected runbook.{why}"))
    if problems:
        raise Refused(problems=problems, kind=FORBIDDEN)


def parameters(value) -> dict:
    with refusing("parameters", params.ParameterError):
        params.check_schema(value)
    return value


def requirements(value, kind: str | None) -> list[str]:
    """PEP 508 lines, each checked here; whether they resolve is uv's
    answer when the version is saved (versions.with_lock)."""
    lines = environments.check_lines(value)
    if lines and kind is not None and kind != RunbookVersion.Kind.PYTHON:
        raise Refused("only a Python runbook has requirements", "requirements")
    return lines


def concurrency_key(value: str) -> str:
    with refusing("concurrency_key", templating.RenderError):
        templating.check({"concurrency_key": value})
    return value


def secret_names(value: list) -> list:
    for name in value:
        problem = secret_store.name_problem(name)
        if problem:
            raise Refused(problem, "secrets")
    if len(set(value)) != len(value):
        raise Refused("a secret is named twice", "secrets")
    return value


def queue(value: str) -> str:
    if value and not QUEUE_NAME.match(value):
        raise Refused("queue names are lower-case letters, digits, '_', '.', '-'", "queue")
    return value


def _text(data: dict, field: str, max_length: int, required: bool = False) -> None:
    value = data.get(field)
    if value is None:
        if required:
            raise Refused("This field is required.", field)
        return
    if not isinstance(value, str):
        raise Refused("Not a valid string.", field)
    if required and not value.strip():
        raise Refused("This field may not be blank.", field)
    if len(value) > max_length:
        raise Refused(f"Ensure this field has no more than {max_length} characters.", field)


def _whole(data: dict, field: str) -> None:
    value = data.get(field)
    if value is None:
        return
    low, high = RANGES[field]
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused("A valid integer is required.", field)
    if not low <= value <= high:
        raise Refused(f"must be between {low} and {high}", field)


def _choice(data: dict, field: str, choices) -> None:
    value = data.get(field)
    if value is not None and value not in choices:
        raise Refused(f'"{value}" is not a valid choice.', field)


def _strings(data: dict, field: str, max_items: int | None, max_length: int, choices=None) -> None:
    value = data.get(field)
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Refused("a list of strings", field)
    if max_items is not None and len(value) > max_items:
        raise Refused(f"Ensure this field has no more than {max_items} elements.", field)
    for item in value:
        if len(item) > max_length:
            raise Refused(f"Ensure each has no more than {max_length} characters.", field)
        if choices is not None and item not in choices:
            raise Refused(f'"{item}" is not a valid choice.', field)


def _flag(data: dict, field: str) -> None:
    if data.get(field) is not None and not isinstance(data[field], bool):
        raise Refused("Must be a valid boolean.", field)


def _slug(data: dict, instance) -> None:
    value = data.get("slug")
    if value is None:
        return
    if not isinstance(value, str) or not SLUG.match(value) or len(value) > 64:
        raise Refused("a slug of letters, digits, '-' and '_', at most 64", "slug")
    if Runbook.objects.filter(slug=value).exclude(pk=getattr(instance, "pk", None)).exists():
        raise Refused("a runbook with this slug exists", "slug")


def runbook(data: dict, instance: Runbook | None = None, user=None) -> dict:
    """Check a whole runbook as a save would write it (`instance`: the one it
    changes, or None); returns the fields with the defaults of what was left
    out, or raises Refused with every problem at once."""
    checks = [
        lambda: _slug(data, instance),
        lambda: _text(data, "name", 100, required=True),
        lambda: _text(data, "description", 10**6),
        lambda: _strings(data, "tags", 20, 50),
        lambda: _text(data, "team", 100),
        lambda: _choice(data, "kind", RunbookVersion.Kind.values) if "kind" in data else _missing("kind"),
        lambda: _text(data, "script", MAX_SCRIPT, required=True),
        lambda: _strings(data, "secrets", None, 100),
        lambda: _text(data, "queue", 64),
        lambda: _text(data, "message", 200),
        lambda: _strings(data, "retry_on", 3, 20, choices=Runbook.RETRYABLE),
        lambda: _text(data, "concurrency_key", 200),
        lambda: _choice(data, "on_concurrency_limit", Runbook.OnLimit.values),
        lambda: _flag(data, "requires_approval"),
        lambda: _flag(data, "protected"),
        lambda: runbook_targets(data, instance),
        lambda: requirements(data["requirements"], data.get("kind")) if data.get("requirements") is not None else None,
        *[lambda field=field: _whole(data, field) for field in RANGES],
    ]
    collect(checks)
    cleaned = {
        "description": "",
        "tags": [],
        "team": "",
        "parameters": {},
        "timeout_seconds": 300,
        "secrets": [],
        "queue": "",
        "network": "",
        **data,
    }
    for field in ("name", "description", "team", "queue", "message", "concurrency_key"):
        if isinstance(cleaned.get(field), str):  # as the API's text fields: surrounding blanks go
            cleaned[field] = cleaned[field].strip()
    rules = [
        lambda: parameters(cleaned["parameters"]) if isinstance(cleaned["parameters"], dict) else _not_object(),
        lambda: secret_names(cleaned["secrets"]),
        lambda: queue(cleaned["queue"]),
        lambda: concurrency_key(cleaned["concurrency_key"]) if cleaned.get("concurrency_key") else None,
        lambda: _network(cleaned, instance, user),
        lambda: _loosening(cleaned, instance, user),
    ]
    collect(rules)
    problems = secret_store.scope_problems(instance, cleaned["secrets"])
    if problems:
        raise Refused(problems=[("secrets", problem) for problem in problems])
    return cleaned


def runbook_targets(data: dict, instance) -> None:
    """A partial update keeps what the latest version has of kind and targets."""
    latest = (instance.pending_version or instance.current_version) if instance is not None else None
    kind = data.get("kind") or (latest.kind if latest else None)
    spec = data.get("targets", latest.targets if latest else {})
    targets_spec(spec or {}, kind)


def _network(cleaned: dict, instance, user) -> None:
    if not cleaned["network"]:
        return
    latest = (instance.pending_version or instance.current_version) if instance is not None else None
    network(cleaned["network"], user, latest.network if latest else None)


def _loosening(cleaned: dict, instance, user) -> None:
    current = instance.current_version if instance is not None else None
    loosening(current.fields() if current is not None and current.protected else None, cleaned, user)


def _missing(field: str):
    raise Refused("This field is required.", field)


def _not_object():
    raise Refused("parameters must be a JSON object", "parameters")


# Targets (the `ssh` kind): the spec a version names them by, and a target.
TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}$")
TARGET_POLICIES = ("continue", "stop_on_first_failure")
TARGET_FIELDS = ("name", "address", "port", "user", "labels", "host_key", "credential")
TARGET_SPEC_KEYS = {"selector", "names", "from_event", "max_parallel", "on_failure"}


def selector(value: str, field: str = "targets.selector") -> dict[str, str]:
    """`role=web,dc=east` → {"role": "web", "dc": "east"}: every pair must hold."""
    pairs = {}
    for part in value.split(","):
        key, eq, wanted = part.strip().partition("=")
        key, wanted = key.strip(), wanted.strip()
        if not eq or not LABEL.match(key) or not wanted:
            raise Refused(f"a selector is label=value pairs separated by commas, not {part.strip()!r}", field)
        pairs[key] = wanted
    return pairs


def targets_spec(spec, kind: str) -> None:
    """An `ssh` runbook names its targets by a label selector, by names, by
    a template over the event (`{{ event.labels.instance | host }}`), or by
    several of them (a target must then pass each)."""
    if kind != RunbookVersion.Kind.SSH:
        if spec:
            raise Refused("only an ssh runbook has targets", "targets")
        return
    if not isinstance(spec, dict):
        raise Refused("targets must be an object {selector, names, from_event, max_parallel, on_failure}", "targets")
    unknown = sorted(set(spec) - TARGET_SPEC_KEYS)
    if unknown:
        raise Refused(f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(TARGET_SPEC_KEYS))}", "targets")
    if not any(spec.get(key) for key in ("selector", "names", "from_event")):
        raise Refused("an ssh runbook names its targets: selector, names or from_event", "targets")
    checks = []
    if "selector" in spec:
        wanted = spec["selector"]
        checks.append(lambda: selector(wanted) if isinstance(wanted, str) else _refuse("a string", "targets.selector"))
    if "names" in spec:
        names = spec["names"]
        named = isinstance(names, list) and len(names) <= 1000
        named = named and all(isinstance(n, str) and TARGET_NAME.match(n) for n in names)
        checks.append(lambda: None if named else _refuse("a list of target names", "targets.names"))
    if "from_event" in spec:
        checks.append(lambda: _template(spec["from_event"]))
    if "max_parallel" in spec:
        parallel = spec["max_parallel"]
        whole = isinstance(parallel, int) and not isinstance(parallel, bool) and 1 <= parallel <= 100
        checks.append(lambda: None if whole else _refuse("a whole number from 1 to 100", "targets.max_parallel"))
    if "on_failure" in spec:
        known = spec["on_failure"] in TARGET_POLICIES
        checks.append(lambda: None if known else _refuse(" or ".join(TARGET_POLICIES), "targets.on_failure"))
    collect(checks)


def _template(value) -> None:
    if not isinstance(value, str) or len(value) > 1000:
        _refuse("a template string of at most 1000 characters", "targets.from_event")
    try:
        templating.check({"from_event": value})
    except templating.RenderError as exc:
        raise Refused(str(exc), "targets.from_event") from None


def _refuse(what: str, field: str):
    raise Refused(f"must be {what}", field)


def target(data: dict, instance=None) -> dict:
    """Check a target as a save would write it; the host key must be an
    OpenSSH public key and the credential an existing secret's name."""
    merged = {"port": 22, "labels": {}, **(_target_fields(instance) if instance else {}), **data}
    checks = [
        lambda: _text(merged, "name", 100, required=True),
        lambda: None if TARGET_NAME.match(str(merged.get("name", ""))) else _refuse("letters, digits, . _ -", "name"),
        lambda: _text(merged, "address", 255, required=True),
        lambda: _text(merged, "user", 64, required=True),
        lambda: _port(merged.get("port")),
        lambda: _labels(merged.get("labels")),
        lambda: _host_key(merged.get("host_key")),
        lambda: _credential(merged.get("credential")),
    ]
    collect(checks)
    taken = Target.objects.filter(name=merged["name"]).exclude(pk=getattr(instance, "pk", None)).exists()
    if taken:
        raise Refused("a target with this name exists", "name")
    merged["host_key"] = merged["host_key"].strip()
    return {name: merged[name] for name in TARGET_FIELDS}


def _target_fields(instance) -> dict:
    return {
        name: getattr(instance, name)
        for name in ("name", "address", "port", "user", "labels", "host_key", "credential")
    }


def _port(value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        _refuse("a port from 1 to 65535", "port")


def _labels(value) -> None:
    ok = isinstance(value, dict) and len(value) <= 50
    ok = ok and all(
        isinstance(k, str) and LABEL.match(k) and isinstance(v, str) and len(v) <= 200 for k, v in value.items()
    )
    if not ok:
        _refuse("an object of label names to strings", "labels")


def _host_key(value) -> None:
    if not isinstance(value, str) or not value.strip():
        raise Refused(
            "Pin the target's host key: give it, or fetch it with POST /api/v1/targets/scan/ and confirm it.",
            "host_key",
        )
    try:
        ssh_runner.fingerprint(value.strip())
    except Exception:
        _refuse('an OpenSSH public key line ("ssh-ed25519 AAAA…")', "host_key")


def _credential(value) -> None:
    if not isinstance(value, str) or not value:
        raise Refused("the name of the secret holding the SSH private key", "credential")
    if not Secret.objects.filter(name=value).exists():
        raise Refused(f"no secret is named {value!r}", "credential")
