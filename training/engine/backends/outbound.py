"""What the `openai` backend may send where: the operator's allow-lists, checked right before every request.

A model's owner chooses its `location` (a server URL) and `settings.api_key_env` (the environment variable whose
value goes out as the Bearer token). Both are untrusted: without a check, `api_key_env = "SECRET_KEY"` and a
URL the owner controls send the worker's secrets there. So the backend takes an `OutboundPolicy` (built from
Django settings by training.services.outbound; a plain default here) and

- reads only variables the policy lists (`check_api_key_env`), never one in `forbidden_key_envs`;
- sends a request only to an endpoint the policy allows (`check_url`), every request, redirects included
  (`check_request` is an HTTP client event hook, which runs before each request of a redirect chain leaves).

Endpoint entries: a host name ("localhost", "api.openai.com": that host, any port), an IP address or network
("127.0.0.1", "10.0.0.0/8": a URL whose host is such an address, or a name every address of which falls in
one), or a URL prefix ("https://api.openai.com/v1": same scheme, host and port, and a path under it).
DNS rebinding: when a name is allowed because of the addresses it resolves to (a network entry), the request is
pinned to the address that was checked (`check_request` rewrites the URL's host to it and keeps the name in the
Host header and as the TLS server name), so a DNS server that answers differently when the client connects cannot
send the request elsewhere. A name listed by itself (or in a URL prefix) is trusted as a name: list names you trust.

Plain Python, no Django.
"""
from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .base import BackendError

__all__ = ["OutboundPolicy", "OutboundRefused", "LOOPBACK"]

LOOPBACK = ("127.0.0.1", "::1", "localhost")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(BackendError):
    """A request the policy does not allow. `setting` names the operator setting that decides (for the message)."""

    def __init__(self, message: str, *, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


def resolve_host(host: str) -> list[str]:
    """Every address `host` resolves to (IPv4 and IPv6); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({info[4][0] for info in infos})


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # "fe80::1%eth0": the zone is not part of the address
    except ValueError:
        return None


@dataclass(frozen=True)
class OutboundPolicy:
    """The endpoints and key variables an openai backend may use. The default: loopback only, no key variable."""

    endpoints: tuple[str, ...] = LOOPBACK
    key_envs: tuple[str, ...] = ()
    # Names refused even when listed in key_envs: exact names, and prefixes ("DJANGO_").
    forbidden_key_envs: frozenset[str] = frozenset()
    forbidden_key_env_prefixes: tuple[str, ...] = ()
    endpoints_setting: str = "PREFSTUDIO_OUTBOUND_ALLOWLIST"
    key_envs_setting: str = "PREFSTUDIO_API_KEY_ENV_ALLOWLIST"
    resolve: Callable[[str], list[str]] = field(default=resolve_host, compare=False, repr=False)

    @property
    def fingerprint(self) -> str:
        """What the per-process backend cache keys on: a changed policy means a new backend (checked anew)."""
        return repr((self.endpoints, self.key_envs, sorted(self.forbidden_key_envs), self.forbidden_key_env_prefixes))

    # -- the key variable --------------------------------------------------------------------------------
    def key_env_forbidden(self, name: str) -> bool:
        upper = name.upper()
        return upper in {n.upper() for n in self.forbidden_key_envs} or any(
            upper.startswith(p.upper()) for p in self.forbidden_key_env_prefixes)

    def check_api_key_env(self, name: object) -> str:
        """`name` if the backend may read it as its API key; raises OutboundRefused otherwise."""
        if not isinstance(name, str) or not name.strip():
            raise OutboundRefused("api_key_env must name an environment variable", setting=self.key_envs_setting)
        if self.key_env_forbidden(name):
            raise OutboundRefused(
                f"api_key_env {name!r} names a variable that configures PrefStudio itself; it is never sent to a "
                f"model server (not even if {self.key_envs_setting} lists it)", setting=self.key_envs_setting)
        if name not in self.key_envs:
            allowed = ", ".join(self.key_envs) or "none"
            raise OutboundRefused(
                f"api_key_env {name!r} is not in {self.key_envs_setting} (allowed: {allowed}); the operator lists "
                "the variables model servers may receive", setting=self.key_envs_setting)
        return name

    # -- the endpoint ------------------------------------------------------------------------------------
    def check_url(self, url: str) -> str | None:
        """Raise OutboundRefused unless a request to `url` is allowed (see the module docstring).

        Returns the address the request must be pinned to when a host name was allowed by what it resolves to,
        else None (an address literal, or a name trusted by itself).
        """
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OutboundRefused(f"{url!r} is not an http(s) URL with a host", setting=self.endpoints_setting)
        if parts.username is not None or parts.password is not None:
            raise OutboundRefused(f"{_safe(url)}: credentials in the URL are not allowed; use api_key_env",
                                  setting=self.endpoints_setting)
        host = parts.hostname.rstrip(".").lower()
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise OutboundRefused(f"{_safe(url)}: the port is not a number from 0 to 65535",
                                  setting=self.endpoints_setting) from None
        path = parts.path or "/"
        networks = []
        for entry in self.endpoints:
            if "://" in entry:
                if _prefix_matches(entry, parts.scheme, host, port, path):
                    return None
            elif (network := _network(entry)) is not None:
                networks.append(network)
            elif host == entry.rstrip(".").lower():
                return None
        literal = _ip(host)
        addresses = [literal] if literal is not None else [_ip(a) for a in self.resolve(host)]
        addresses = [a for a in addresses if a is not None]
        if addresses and networks and all(any(_in(a, n) for n in networks) for a in addresses):
            return None if literal is not None else str(addresses[0])
        where = f"{host} ({', '.join(map(str, addresses))})" if addresses and _ip(host) is None else host
        allowed = ", ".join(self.endpoints) or "none"
        raise OutboundRefused(
            f"requests to {where} are not allowed: the host is not in {self.endpoints_setting} (allowed: {allowed})",
            setting=self.endpoints_setting)

    def check_request(self, request: object) -> None:
        """HTTP client event hook (an httpx request): check every request before it is sent, and pin it.

        When the host name was allowed by the address it resolved to, the request goes to that address: the URL's
        host becomes the address, the Host header (set when the request was built) keeps the name, and the name
        stays the TLS server name (httpcore's `sni_hostname` extension), so the certificate is checked for it.
        """
        url = getattr(request, "url")
        pinned = self.check_url(str(url))
        if pinned is None or not hasattr(url, "copy_with"):
            return
        name = url.host
        request.extensions["sni_hostname"] = name  # type: ignore[attr-defined]
        request.url = url.copy_with(host=pinned)  # type: ignore[attr-defined]


def _safe(url: str) -> str:
    """`url` without its user-info (a password must not end up in an error message)."""
    parts = urlsplit(url)
    if parts.hostname is None:
        return url
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "") if "@" in parts.netloc else parts.netloc
    return parts._replace(netloc=netloc).geturl()


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(entry.strip().strip("[]"), strict=False)
    except ValueError:
        return None


def _in(address: IPAddress, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # "::ffff:127.0.0.1" is 127.0.0.1
    return address.version == network.version and address in network


def _prefix_matches(entry: str, scheme: str, host: str, port: int, path: str) -> bool:
    """Is (scheme, host, port, path) under the URL prefix `entry`? Paths match by whole segments."""
    prefix = urlsplit(entry.strip())
    if prefix.scheme != scheme or (prefix.hostname or "").rstrip(".").lower() != host:
        return False
    try:
        prefix_port = prefix.port or (443 if prefix.scheme == "https" else 80)
    except ValueError:
        return False
    wanted = prefix.path.rstrip("/")
    return prefix_port == port and (path == wanted or path.startswith(wanted + "/") or not wanted)


def policy_from(*, endpoints: Iterable[str], key_envs: Iterable[str], forbidden: Iterable[str] = (),
                forbidden_prefixes: Iterable[str] = ()) -> OutboundPolicy:
    """An OutboundPolicy from plain lists (what the Django side passes)."""
    return OutboundPolicy(endpoints=tuple(endpoints), key_envs=tuple(key_envs),
                          forbidden_key_envs=frozenset(forbidden), forbidden_key_env_prefixes=tuple(forbidden_prefixes))
