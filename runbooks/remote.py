"""The worker's side of an `ssh` run: pick its targets, fetch their
credentials (scoped like every secret), run the script on them
(runbooks/runners/ssh.py) and audit each connection."""

from django.db import transaction

from audit import trail
from core import templating
from runbooks import secret_store, targets
from runbooks.runners import process, ssh

DEFAULT_POLICY = "continue"


def run(execution, secrets: dict[str, str], sink, spec_for) -> process.Outcome:
    """`spec_for(execution, secrets)` is the worker's RunSpec builder: the
    same identifiers, parameters, event and timeout as a local run."""
    version = execution.version
    local = spec_for(execution, secrets)
    target_spec = version.targets or {}
    try:
        chosen, missing = targets.select(target_spec, {"event": local.event, "params": local.parameters})
    except templating.RenderError as exc:
        return process.Outcome("failed", error=f"The targets' template failed: {exc}")
    hosts = [_refused(name, "Unknown target: no target has this name or address.") for name in missing]
    keys: dict[str, tuple[str, str | None] | str] = {}
    for target in chosen:
        if target.credential not in keys:
            keys[target.credential] = _credential(target.credential, execution.runbook)
        key = keys[target.credential]
        if isinstance(key, str):  # why there is no key
            hosts.append(_refused(target.name, key))
            continue
        hosts.append(
            ssh.Host(target.name, target.address, target.port, target.user, target.host_key, key[0], passphrase=key[1])
        )
    spec = ssh.SshSpec(
        script=version.script,
        parameters=local.parameters,
        event=local.event,
        timeout_seconds=version.timeout_seconds,
        hosts=hosts,
        identifiers=local.identifiers,
        secrets=secrets,
        max_parallel=target_spec.get("max_parallel", ssh.DEFAULT_MAX_PARALLEL),
        policy=target_spec.get("on_failure", DEFAULT_POLICY),
        max_output_bytes=local.max_output_bytes,
    )
    outcome, outcomes = ssh.run(spec, sink)
    # Each connection tried, by target and key fingerprints: one commit, its own.
    connections = [
        trail.Change(
            "target.connected",
            "target",
            one.name,
            after={
                "execution": str(execution.pk),
                "client_key_fingerprint": one.client_key_fingerprint,
                "host_key_fingerprint": one.host_key_fingerprint,
                "status": one.status,
            },
        )
        for one in outcomes
        if one.client_key_fingerprint
    ]
    if connections:
        with transaction.atomic():
            trail.record_many(trail.SYSTEM, connections)
    return outcome


def _refused(name: str, why: str) -> ssh.Host:
    return ssh.Host(name, "", 0, "", "", "", refused=why)


def _credential(name: str, runbook) -> tuple[str, str | None] | str:
    """(private key, passphrase) from the secret `name` (and `name_PASSPHRASE`
    when it exists), or why the run may not have it."""
    try:
        key = secret_store.values_for([name], runbook)[name]
    except secret_store.SecretError as exc:
        return f"Its credential: {exc}"
    passphrase_name = f"{name}_PASSPHRASE"
    try:
        passphrase = secret_store.values_for([passphrase_name], runbook)[passphrase_name]
    except secret_store.SecretError:
        passphrase = None
    return key, passphrase
