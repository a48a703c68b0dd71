"""The source token a webhook request presents."""

import base64
import binascii


def presented_token(request) -> str:
    """The token from `Bearer <token>` or from Basic auth's password ("" if none)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""
