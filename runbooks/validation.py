"""Rules on what a runbook may declare, for every caller: the API, the
runbook form and the importer (which validates through the API's
serializer). Plain values in; a refusal names the field and its kind."""

from accounts import roles
from runbooks.models import Network


class Refused(Exception):
    """`kind`: "invalid" (400) or "forbidden" (403, the caller's role)."""

    def __init__(self, message: str, field: str, kind: str = "invalid"):
        super().__init__(message)
        self.message, self.field, self.kind = message, field, kind


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
            "Only an admin may give a runbook the worker's own network (network: host).", "network", "forbidden"
        )
    return value
