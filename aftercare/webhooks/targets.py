"""Where a webhook may post: the rules that keep it off the vendor's own network.

A webhook is a request our server makes to an address someone typed in. Pointed at
``127.0.0.1:6379``, ``10.0.0.5/admin`` or ``169.254.169.254`` (the cloud metadata
service) it turns Aftercare into a proxy into the network it runs in (GLPI
CVE-2026-22247). So a target must be https (http only if a setting allows it), carry no
credentials, use an allowed port, and its host must resolve *only* to public addresses:
if any address from ``getaddrinfo`` is loopback, private, link-local, carrier-grade NAT,
unspecified, multicast or reserved, the target is refused.

The check runs when a subscription is saved (a clear form error) and again before every
delivery, because DNS answers change. The delivery then connects to exactly the address
that was checked (``Address.sockaddr``), sending the name only in the ``Host`` header and
TLS SNI, so a name that answers "public" to the check and "private" a moment later (DNS
rebinding) cannot redirect the connection.

``AFTERCARE_WEBHOOKS_ALLOW_PRIVATE`` turns the address check off (test set-ups, an
on-premises receiver on the LAN); unspecified and multicast addresses stay refused, as
they never name one TCP peer.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(Exception):
    """The target is refused; the message is for the administrator (translated)."""


class Unresolvable(Exception):
    """The host name does not resolve (now); at delivery time this is retried."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # IDNA-encoded name or IP literal, without brackets
    port: int
    path: str  # path and query, at least "/"


@dataclass(frozen=True)
class Address:
    family: int
    sockaddr: tuple
    ip: IPAddress


def parse(url: str) -> Target:
    """Split ``url`` and apply the scheme, credential and port rules."""
    url = (url or "").strip()
    if not url or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise UnsafeTarget(_("Enter a URL without spaces or control characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget(_("This is not a valid URL.")) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeTarget(_("Only https:// addresses can receive webhooks."))
    if scheme == "http" and not settings.AFTERCARE_WEBHOOKS_ALLOW_HTTP:
        raise UnsafeTarget(_("Plain http:// is not allowed here; use an https:// address."))
    if "@" in parts.netloc:
        raise UnsafeTarget(
            _(
                "Credentials in the URL are not allowed: the receiver should check the "
                "signature instead."
            )
        )
    host = parts.hostname or ""
    if not host:
        raise UnsafeTarget(_("The URL has no host name."))
    try:
        host = host.encode("idna").decode("ascii") if not _is_ip(host) else host
    except UnicodeError:
        raise UnsafeTarget(_("The host name is not valid.")) from None
    port = port or (443 if scheme == "https" else 80)
    allowed = sorted(int(p) for p in settings.AFTERCARE_WEBHOOKS_PORTS)
    if port not in allowed:
        raise UnsafeTarget(
            _("Port %(port)s is not allowed; allowed ports: %(ports)s.")
            % {"port": port, "ports": ", ".join(str(p) for p in allowed)}
        )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port, path=path)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to, in the resolver's order (the test seam)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(
            _("The host name %(host)s could not be resolved (%(error)s).")
            % {"host": host, "error": exc}
        ) from exc
    found: list[Address] = []
    for family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if all(a.sockaddr != sockaddr for a in found):
            found.append(Address(family, tuple(sockaddr), ip))
    if not found:
        raise Unresolvable(_("The host name %(host)s has no address.") % {"host": host})
    return found


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, NAT64, 6to4, Teredo)."""
    if ip.version != 6:
        return None
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def blocked_kind(ip: IPAddress, *, allow_private: bool = False) -> str:
    """Why ``ip`` may not receive webhooks ("" if it may)."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        kind = blocked_kind(inner, allow_private=allow_private)
        if kind:
            return kind
    if ip.is_unspecified:
        return _("unspecified")
    if ip.is_multicast:
        return _("multicast")
    if allow_private:
        return ""
    if ip.is_loopback:
        return _("loopback")
    if ip.is_link_local:
        return _("link-local")
    if ip.version == 4 and ip in CGNAT:
        return _("carrier-grade NAT")
    if ip.is_reserved:
        return _("reserved")
    if ip.is_private:
        return _("private")
    if not ip.is_global:
        return _("non-public")
    return ""


def vet(target: Target) -> list[Address]:
    """Resolve ``target.host`` once and refuse it if any address is not allowed.

    Raises ``UnsafeTarget`` or ``Unresolvable``; returns the addresses to connect to.
    """
    allow_private = settings.AFTERCARE_WEBHOOKS_ALLOW_PRIVATE
    addresses = resolve(target.host, target.port)
    for address in addresses:
        kind = blocked_kind(address.ip, allow_private=allow_private)
        if not kind:
            continue
        params = {"host": target.host, "address": address.ip, "kind": kind}
        if _is_ip(target.host):
            raise UnsafeTarget(
                _(
                    "%(address)s is a %(kind)s address: webhooks may only be sent to "
                    "public internet addresses."
                )
                % params
            )
        raise UnsafeTarget(
            _(
                "%(host)s resolves to %(address)s, a %(kind)s address: webhooks may only "
                "be sent to public internet addresses."
            )
            % params
        )
    return addresses


def check_url(url: str) -> Target:
    """The whole check, as at save time: raises ``UnsafeTarget`` or ``Unresolvable``."""
    target = parse(url)
    vet(target)
    return target
