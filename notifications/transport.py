"""POST a message to a checked URL: to the very address the guard checked
(TLS still verifies the URL's host name), with a short timeout, never
following a redirect."""

import base64
import http.client
import socket
import ssl
from dataclasses import dataclass

from django.conf import settings

from notifications import guard

MAX_ANSWER_BYTES = 64 * 1024
USER_AGENT = "Steward-Notifications/1"


class SendError(Exception):
    """An attempt failed. `permanent`: trying again cannot help (the guard
    refused the URL, the receiver said 4xx), so the delivery fails at once."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass
class Answer:
    status: int
    body: str


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: guard.Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: guard.Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


# Statuses worth another try: the receiver is overloaded or not up yet.
TRANSIENT = {408, 425, 429}


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """Send once. Returns the 2xx answer; raises SendError otherwise."""
    try:
        target = guard.check(url)
    except guard.Refused as exc:
        raise SendError(f"refused: {exc}", permanent=True) from None
    timeout = settings.STEWARD_NOTIFY_TIMEOUT_SECONDS
    connection_class = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = connection_class(target, timeout)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    if target.userinfo:
        credentials = base64.b64encode(":".join(target.userinfo).encode()).decode()
        headers["Authorization"] = f"Basic {credentials}"
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        answer = Answer(response.status, response.read(MAX_ANSWER_BYTES).decode("utf-8", "replace"))
    except ssl.SSLCertVerificationError as exc:
        raise SendError(f"TLS certificate of {target.host} not accepted: {exc.verify_message}") from None
    except TimeoutError:
        raise SendError(f"no answer from {target.host} within {timeout} s") from None
    except (OSError, http.client.HTTPException) as exc:
        raise SendError(f"could not reach {target.host}: {exc or type(exc).__name__}") from None
    finally:
        connection.close()
    if 200 <= answer.status < 300:
        return answer
    snippet = " ".join(answer.body.split())[:300]
    if 300 <= answer.status < 400:
        location = response.getheader("Location", "")
        raise SendError(f"HTTP {answer.status}: redirects are not followed ({location})", permanent=True)
    permanent = 400 <= answer.status < 500 and answer.status not in TRANSIENT
    raise SendError(f"HTTP {answer.status}: {snippet}" if snippet else f"HTTP {answer.status}", permanent=permanent)
