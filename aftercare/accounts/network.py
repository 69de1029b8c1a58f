"""Who is on the other end: the client address used for throttling and lockouts.

Behind a reverse proxy every request arrives from the proxy, so ``REMOTE_ADDR`` alone
would count everyone's failures against one address (and lock everyone out at once).
``X-Forwarded-For`` is believed only when the immediate peer is one of
``AFTERCARE_TRUSTED_PROXIES``; then the rightmost address in it that is *not* a trusted
proxy is the client (entries further left were written by the client and prove nothing).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"AFTERCARE_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                "(e.g. 127.0.0.1, 10.0.0.0/8, ::1)."
            ) from None
    return tuple(networks)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped
    return ip


def _trusted(ip, networks: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip in net for net in networks)


def client_address(request: HttpRequest | None) -> str:
    """The client's IP address as a string ("" when unknown)."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    networks = parse_networks(tuple(getattr(settings, "AFTERCARE_TRUSTED_PROXIES", ())))
    peer = _ip(remote)
    if not networks or not _trusted(peer, networks):
        return str(peer) if peer is not None else remote
    hops = [h for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:
            # Garbage where a trusted proxy should have written an address: believe none
            # of it and count against the last hop we trust.
            break
        client = ip
        if not _trusted(ip, networks):
            break
    return str(client)
