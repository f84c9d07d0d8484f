"""Which endpoint URLs the platform will request: http(s) only, never link-local or metadata."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from lakehouse_assets.errors import ConfigurationError

METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("fd00:ec2::254")})


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or address in METADATA_ADDRESSES
    )


def check_endpoint_url(
    url: str, *, what: str, allowed_hosts: Iterable[str] = (), resolve: bool = True
) -> None:
    """Raise ConfigurationError (naming ``what``, never the URL) unless ``url`` may be requested.

    Hosts in ``allowed_hosts`` skip the address checks (local development against odd hosts).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(
            f"{what}: endpoint scheme {parts.scheme or '(none)'!r} is not http(s)"
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise ConfigurationError(f"{what}: endpoint URL has no host")
    if parts.username or parts.password:
        raise ConfigurationError(f"{what}: endpoint URL must not carry credentials")
    if host in {h.lower() for h in allowed_hosts}:
        return
    if host in METADATA_HOSTS:
        raise ConfigurationError(f"{what}: endpoint host is a cloud metadata service")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    elif resolve:
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except socket.gaierror:
            raise ConfigurationError(f"{what}: endpoint host does not resolve") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    else:
        addresses = []
    if any(_forbidden(a) for a in addresses):
        raise ConfigurationError(
            f"{what}: endpoint resolves to a link-local, metadata or reserved address"
        )
