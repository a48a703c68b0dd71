"""Who is on the other end of a request: the client's address, also behind a
reverse proxy.

Behind a proxy REMOTE_ADDR is the proxy's own address, so counting failed
logins by it locks everybody out at once. A proxy names the client in a
header (X-Forwarded-For: client, proxy1, proxy2), but anybody can send that
header: it is read only when the direct peer is a trusted proxy
(STEWARD_TRUSTED_PROXIES), and then only the hops that trusted proxies
appended count. Walking from the right, the first address that is not a
trusted proxy is the client; what lies left of it was written by the client
itself and proves nothing.
"""

import ipaddress

from django.conf import settings


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:51234
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket (::ffff:203.0.113.7).
    return address.ipv4_mapped or address if address.version == 6 else address


def _trusted(address, networks) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def client_address(request) -> str:
    """The client's IP address as text ("" when the peer has none)."""
    peer = request.META.get("REMOTE_ADDR", "")
    header = settings.STEWARD_TRUSTED_PROXY_HEADER
    networks = settings.STEWARD_TRUSTED_PROXIES
    peer_address = _address(peer)
    if not header or peer_address is None or not _trusted(peer_address, networks):
        return peer
    meta_key = "HTTP_" + header.upper().replace("-", "_")
    # Several headers of one name arrive joined with commas, as one list.
    hops = [hop for hop in request.META.get(meta_key, "").split(",") if hop.strip()]
    client = peer_address
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # Garbage a trusted proxy passed on from further left: the last
            # trusted hop is the best we know.
            break
        client = address
        if not _trusted(address, networks):
            break
    return str(client)
