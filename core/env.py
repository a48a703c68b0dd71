"""Tiny typed readers for settings that come from the environment.

They refuse values they do not understand instead of guessing, so a typo in a
deployment fails at start rather than silently running with a default.
"""

import ipaddress
import os
import re
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be on/off (true/false, 1/0), not {raw!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_networks(name: str, default: str = "") -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Comma-separated CIDRs (a bare address is a /32 or /128)."""
    networks = []
    for item in env_list(name, default):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be comma-separated CIDRs (10.0.0.0/8,::1), not {item!r}") from None
    return networks


_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def env_header(name: str) -> str:
    """An HTTP header name (X-Forwarded-For), or "" when unset."""
    raw = os.environ.get(name, "").strip()
    if raw and not _HEADER_NAME.fullmatch(raw):
        raise ImproperlyConfigured(f"{name} must be an HTTP header name such as X-Forwarded-For, not {raw!r}")
    return raw


def env_secret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file that NAME_FILE names (a mounted
    Docker or Kubernetes secret, so the value is in no process's
    environment), without its trailing newline. Both set is refused: which
    one wins would be a guess."""
    path = os.environ.get(f"{name}_FILE", "")
    if not path:
        return os.environ.get(name, default)
    if os.environ.get(name):
        raise ImproperlyConfigured(f"set {name} or {name}_FILE, not both")
    try:
        value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc}") from None
    if not value:
        raise ImproperlyConfigured(f"{name}_FILE: {path} is empty")
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name)
    value = default if raw is None or raw.strip() == "" else raw.strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return value


def env_range(name: str, default: str) -> tuple[int, int] | None:
    """`first-last` of positive integers (e.g. a UID range); empty: None."""
    raw = os.environ.get(name, default).strip()
    if not raw:
        return None
    first, sep, last = raw.partition("-")
    try:
        low, high = int(first), int(last if sep else first)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a range like 62000-62999, not {raw!r}") from None
    if low <= 0 or high < low:
        raise ImproperlyConfigured(f"{name} must be a range of positive numbers, first <= last, not {raw!r}")
    return low, high
