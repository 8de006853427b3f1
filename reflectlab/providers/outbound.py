"""What a model config may reach and read: the operator's allowlists.

A model config is written by any project manager, but it is executed by the
workers (and "Test connection" by the web process), which hold the server's
secrets and sit inside its network. Two operator-set allowlists keep a config
from turning them against the server:

* **API key variables.** Only environment variables named
  ``REFLECTLAB_KEY_…`` (``KEY_ENV_PREFIX``), plus those listed in
  ``REFLECTLAB_ALLOWED_KEY_ENVS``, may be sent as a Bearer token — never
  ``SECRET_KEY`` or ``DATABASE_URL``. Checked when a config is saved *and*
  whenever a key is read, so a row stored before the rule is refused too.
* **Model hosts** (``REFLECTLAB_MODEL_HOSTS``, default loopback only): host
  names (``api.openai.com``, ``*.example.com`` for subdomains), IP addresses
  and networks (``10.0.0.0/8``), or ``*`` for anything (dangerous on a shared
  server: it lets managers reach every internal service). Checked when a
  config is saved and again on every request by :class:`GuardedTransport`,
  which resolves the host itself and connects to the address it checked (no
  DNS rebinding between check and connect); redirects are never followed.

Both are read when used (Django settings win, then the environment), so tests
and operators can change them without a restart of the code that reads them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

import httpx
from django.conf import settings

KEY_ENV_PREFIX = "REFLECTLAB_KEY_"
DEFAULT_MODEL_HOSTS = "127.0.0.1,localhost,::1"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(Exception):
    """A request or a key the operator's allowlists do not permit."""


def _setting(name: str, default: str) -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value is None:
        return default
    return value if isinstance(value, str) else ",".join(value)


def _items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


# -- API key variables -----------------------------------------------------------


def key_env_allowed(name: str) -> bool:
    """Whether the variable ``name`` may be read as a model API key."""
    if not name:
        return False
    if name.startswith(KEY_ENV_PREFIX) and len(name) > len(KEY_ENV_PREFIX):
        return True
    return name in _items(_setting("REFLECTLAB_ALLOWED_KEY_ENVS", ""))


def key_env_error(name: str) -> str | None:
    if not name or key_env_allowed(name):
        return None
    return (
        f"Name a variable that starts with {KEY_ENV_PREFIX} (e.g. {KEY_ENV_PREFIX}OPENAI); "
        "others must be allowed by the operator in REFLECTLAB_ALLOWED_KEY_ENVS."
    )


def api_key_read(name: str) -> str | None:
    """The key in the allowed variable ``name`` (``None`` when unset); refuses other names."""
    if not name:
        return None
    if not key_env_allowed(name):
        raise OutboundRefused(
            f"The API key variable {name} is not allowed on this server "
            f"(allowed: {KEY_ENV_PREFIX}* and REFLECTLAB_ALLOWED_KEY_ENVS)."
        )
    return os.environ.get(name) or None


# -- model hosts ----------------------------------------------------------------


class HostPolicy:
    """The parsed ``REFLECTLAB_MODEL_HOSTS``: names, ``*.suffix`` patterns, networks."""

    def __init__(self, value: str):
        self.any = False
        self.names: set[str] = set()
        self.suffixes: list[str] = []
        self.networks: list[Network] = []
        for item in _items(value.lower()):
            if item == "*":
                self.any = True
            elif item.startswith("*."):
                self.suffixes.append(item[1:])
            else:
                try:
                    self.networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
                except ValueError:
                    self.names.add(item.rstrip("."))

    @classmethod
    def current(cls) -> HostPolicy:
        return cls(_setting("REFLECTLAB_MODEL_HOSTS", DEFAULT_MODEL_HOSTS))

    def name_allowed(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return self.any or host in self.names or any(host.endswith(s) for s in self.suffixes)

    def address_allowed(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)

    def pinned_address(self, host: str, port: int) -> str | None:
        """The address to connect to for ``host``: ``None`` when the host is allowed
        by name; else its resolved address, when every one is in an allowed network.

        Raises OutboundRefused otherwise.
        """
        if self.name_allowed(host):
            return None
        addresses = resolve(host, port)
        if not addresses:
            raise OutboundRefused(f"Cannot resolve the model host {host}.")
        if not all(self.address_allowed(a) for a in addresses):
            raise OutboundRefused(
                f"The model host {host} is not allowed on this server "
                "(the operator sets REFLECTLAB_MODEL_HOSTS)."
            )
        return str(addresses[0])


def resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    seen: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if address not in seen:
            seen.append(address)
    return seen


def base_url_error(url: str) -> str | None:
    """Why ``url`` cannot be a model base URL on this server (``None``: it can)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme not in {"http", "https"}:
        return "Start the base URL with http:// or https://."
    if not parts.hostname:
        return "The base URL needs a host."
    if parts.username or parts.password:
        return "Put no user name or password in the base URL; name a key variable instead."
    default_port = 443 if parts.scheme == "https" else 80
    try:
        HostPolicy.current().pinned_address(parts.hostname, port or default_port)
    except OutboundRefused as exc:
        return str(exc)
    return None


class GuardedTransport(httpx.BaseTransport):
    """Checks every request's host against the allowlist before it leaves.

    A host allowed through a network (not by name) is resolved here once and
    the connection goes to that checked address — the ``Host`` header and the
    TLS server name stay the original host, so certificates still verify.
    """

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        pinned = HostPolicy.current().pinned_address(url.host, port)  # may raise OutboundRefused
        if pinned is not None and pinned != url.host:
            request.url = url.copy_with(host=pinned)
            if url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": url.host}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
