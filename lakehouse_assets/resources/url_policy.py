"""Which URLs the platform will request (http(s) only, never link-local or metadata), and which
redirects and server-given next links it will follow (the same host, or an allow-listed one)."""

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


def url_problem(url: str, *, allowed_hosts: Iterable[str] = (), resolve: bool = True) -> str | None:
    """Why ``url`` may not be requested (never quoting it), or None if it may.

    Hosts in ``allowed_hosts`` skip the address checks (local development against odd hosts).
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"endpoint scheme {parts.scheme or '(none)'!r} is not http(s)"
    host = (parts.hostname or "").lower()
    if not host:
        return "endpoint URL has no host"
    if parts.username or parts.password:
        return "endpoint URL must not carry credentials"
    if host in {h.lower() for h in allowed_hosts}:
        return None
    if host in METADATA_HOSTS:
        return "endpoint host is a cloud metadata service"
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
            return "endpoint host does not resolve"
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    else:
        addresses = []
    if any(_forbidden(a) for a in addresses):
        return "endpoint resolves to a link-local, metadata or reserved address"
    return None


def check_endpoint_url(
    url: str, *, what: str, allowed_hosts: Iterable[str] = (), resolve: bool = True
) -> None:
    """Raise ConfigurationError (naming ``what``, never the URL) unless ``url`` may be requested.

    Hosts in ``allowed_hosts`` skip the address checks (local development against odd hosts).
    """
    problem = url_problem(url, allowed_hosts=allowed_hosts, resolve=resolve)
    if problem is not None:
        raise ConfigurationError(f"{what}: {problem}")


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (defaulted by scheme): what "the same host" means for a hop."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def hop_problem(
    from_url: str, to_url: str, *, allowed_hosts: Iterable[str] = (), resolve: bool = True
) -> str | None:
    """Why a redirect or a server-given next link from ``from_url`` to ``to_url`` may not be
    followed (never quoting either URL), or None if it may.

    The target must pass :func:`url_problem`; it must stay on the same scheme, host and port
    unless its host is in ``allowed_hosts`` (a server cannot send the client, and the
    credentials it carries, to a host nobody configured); and https never drops to http.
    """
    problem = url_problem(to_url, allowed_hosts=allowed_hosts, resolve=resolve)
    if problem is not None:
        return f"the target {problem.removeprefix('endpoint ')}"
    source, target = origin(from_url), origin(to_url)
    if source[0] == "https" and target[0] != "https":
        return "the target drops from https to http"
    allowed = {h.lower() for h in allowed_hosts}
    if target != source and target[1] not in allowed:
        return "the target is on another host (or port), which is not in the allow-list"
    return None
