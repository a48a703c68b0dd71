"""DNS rebinding: a receiver's name answers a checked address when the guard
asks and an internal one a moment later. The transport connects to the
address the guard checked, never to the name again, so the internal
service never hears the request. Both ends are real HTTP servers on
loopback; only the resolver's answers are scripted."""

import socket

import pytest

from notifications import guard, transport
from tests.notifications.receiver import Receiver

NAME = "hooks.rebinding.test"
CHECKED, INTERNAL = "127.0.0.1", "127.0.0.2"


@pytest.fixture
def servers():
    checked = Receiver(host=CHECKED)
    try:
        internal = Receiver(host=INTERNAL, port=checked.port)
    except OSError:
        checked.close()
        raise
    yield checked, internal
    checked.close()
    internal.close()


@pytest.fixture
def rebinding_resolver(monkeypatch):
    """NAME resolves to CHECKED the first time and to INTERNAL ever after."""
    real = socket.getaddrinfo
    asked = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != NAME:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        address = CHECKED if len(asked) == 1 else INTERNAL
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_the_request_goes_to_the_address_the_guard_checked(settings, servers, rebinding_resolver):
    checked, internal = servers
    # Only the checked address is allowed: INTERNAL stands for the control plane.
    settings.STEWARD_NOTIFY_ALLOWED_NETWORKS = [f"{CHECKED}/32"]
    settings.STEWARD_NOTIFY_TIMEOUT_SECONDS = 3
    with pytest.raises(guard.Refused):
        guard.check(f"http://{INTERNAL}:{checked.port}/hook")  # the guard would refuse it by address
    rebinding_resolver.clear()

    answer = transport.post(f"http://{NAME}:{checked.port}/hook", b'{"text": "hi"}', {})

    assert answer.status == 200
    assert [r.body for r in checked.requests] == [b'{"text": "hi"}']
    assert checked.requests[0].headers["Host"] == f"{NAME}:{checked.port}"  # the name is still the Host
    assert internal.requests == [] and internal.connections == 0
    assert rebinding_resolver == [NAME]  # resolved once, by the guard


def test_the_resolver_really_rebinds(servers, rebinding_resolver):
    """The test above means something: a client that resolves the name again
    does reach the internal server."""
    checked, _ = servers
    assert socket.getaddrinfo(NAME, checked.port)[0][4][0] == CHECKED
    with socket.create_connection((NAME, checked.port), timeout=3) as sock:
        assert sock.getpeername()[0] == INTERNAL
