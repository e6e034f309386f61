"""Which addresses a feed or enclosure may point at."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse


class BlockedAddressError(ValueError):
    pass


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _unwrap(addr: ipaddress.IPv4Address | ipaddress.IPv6Address):
    """The IPv4 address inside an IPv6 one (mapped, 6to4, NAT64, compatible), else itself."""
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped:
            return addr.ipv4_mapped
        if addr.sixtofour:
            return addr.sixtofour
        if addr in NAT64 or int(addr) >> 32 == 0:
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr


def is_public(ip: str) -> bool:
    return _unwrap(ipaddress.ip_address(ip.split("%", 1)[0])).is_global


def check_public(url: str) -> None:
    """Raise BlockedAddressError when the URL's host resolves to a non-public address."""
    host = urlparse(url).hostname
    if not host:
        raise BlockedAddressError(f"{url} has no host")
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise BlockedAddressError(f"{url}: cannot resolve {host} ({exc})") from exc
    for info in infos:
        addr = _unwrap(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
        if not addr.is_global:
            raise BlockedAddressError(
                f"{url} resolves to {addr}, a private or local address "
                "(set allow_private_network: true in the feeds file to allow it)"
            )
