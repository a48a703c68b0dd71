"""Tiny typed readers for settings that come from the environment.

They refuse values they do not understand instead of guessing, so a typo in a
deployment fails at start rather than silently running with a default.
"""

import ipaddress
import os

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


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


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


def env_networks(name: str, default: str) -> list[str]:
    """A comma-separated list of IP networks (CIDRs or single addresses)."""
    items = env_list(name, default)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name} holds {item!r}, which is no IP address or CIDR network") from None
    return items
