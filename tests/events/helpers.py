"""What the webhook tests share: the tools' payloads in tests/fixtures, and
posting them the way the tools do."""

import hashlib
import hmac
import json
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def load(name: str):
    """A fixture payload, decoded: tests/fixtures/<kind>/<name>.json."""
    return json.loads((FIXTURES / name).read_text())


def as_bytes(document) -> bytes:
    """The body a tool sends (signatures are computed over these bytes)."""
    return json.dumps(document, indent=2).encode()


def post(client, slug, body, token=None, content_type="application/json", **headers):
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    data = body if isinstance(body, (bytes, str)) else as_bytes(body)
    return client.post(f"/hooks/{slug}", data=data, content_type=content_type, **headers)


def steward_signature(body: bytes, key: str, t: int | None = None) -> str:
    """X-Steward-Signature for a body, as a generic source's sender computes it."""
    t = int(time.time()) if t is None else t
    return f"t={t},v1=" + hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
