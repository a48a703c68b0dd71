"""Where Steward may send a notification: never to this machine, the
internal network or a cloud's metadata service, unless the operator allowed
that network (STEWARD_NOTIFY_ALLOWED_NETWORKS, CIDRs).

`check(url)` resolves the host once and refuses the URL when any address it
resolves to is loopback, private, link-local (169.254.169.254), shared,
multicast, reserved or unspecified, also when hidden in an IPv4-mapped or
NAT64 IPv6 address. The caller then connects to the address that was
checked (notifications/transport.py), so a second DNS answer cannot point
the request elsewhere. Plain http is allowed only to an allowed network.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_PORTS = {"https": 443, "http": 80}


class Refused(ValueError):
    """The URL may not be used; the message says why, for a person."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written in the URL: the Host header and TLS server name
    port: int
    path: str  # path and query
    address: str  # the checked IP to connect to
    userinfo: tuple[str, str] | None = None


def allowed_networks() -> list:
    networks = []
    for cidr in settings.STEWARD_NOTIFY_ALLOWED_NETWORKS:
        networks.append(ipaddress.ip_network(cidr, strict=False))
    return networks


def embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (::ffff:a.b.c.d, 64:ff9b::a.b.c.d)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return ip.ipv4_mapped
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def category(ip: Address) -> str | None:
    """Why this address is not on the public internet, or None when it is."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        why = category(inner)
        return f"{why} (inside {ip})" if why else None
    for name, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local (cloud metadata lives there)", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return name
    return None if ip.is_global else "non-public"


def is_allowed(ip: Address, networks=None) -> bool:
    networks = allowed_networks() if networks is None else networks
    candidates = [ip] + ([embedded_ipv4(ip)] if embedded_ipv4(ip) else [])
    return any(c.version == n.version and c in n for c in candidates for n in networks)


def resolve(host: str, port: int) -> list[Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve ({exc})") from None
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise Refused(f"{host} does not resolve")
    return addresses


def parse(url: str) -> tuple[str, str, int, str, tuple[str, str] | None]:
    """scheme, host, port, path and credentials of a URL Steward could send to."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a URL: {exc}") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise Refused("the URL must start with https:// (or http:// to an allowed network)")
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.fragment:
        raise Refused("the URL may not have a #fragment")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    userinfo = (parts.username or "", parts.password or "") if parts.username is not None else None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme], path, userinfo


def check(url: str) -> Target:
    """The URL's checked target, or Refused saying why."""
    scheme, host, port, path, userinfo = parse(url)
    networks = allowed_networks()
    addresses = resolve(host, port)
    for ip in addresses:
        if is_allowed(ip, networks):
            continue
        why = category(ip)
        if why:
            named = host if host == str(ip) else f"{host} resolves to {ip}, which"
            raise Refused(
                f"{named} is a {why} address: Steward does not send there "
                "(an operator may allow its network in STEWARD_NOTIFY_ALLOWED_NETWORKS)"
            )
    if scheme == "http" and not all(is_allowed(ip, networks) for ip in addresses):
        raise Refused("plain http:// is allowed only to a network in STEWARD_NOTIFY_ALLOWED_NETWORKS; use https://")
    return Target(scheme, host, port, path, str(addresses[0]), userinfo)
