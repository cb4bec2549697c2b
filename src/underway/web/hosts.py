"""The host names the server answers to: what stops DNS rebinding (RELIABILITY S1).

A page on evil.example whose name the attacker re-points at 127.0.0.1 reaches a local server
with its own name in the Host header; a server that answers only to names of its own is out
of its reach. Starlette's TrustedHostMiddleware decides whether a name is allowed; this module
chooses the names. The API's HostCheck refuses the others.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import Message, Receive, Scope, Send

from ..errors import ConfigurationError

#: Names a browser uses only for this machine; a rebinding page can never have one of them.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
ANY_HOST = "*"
HostNames = str | Iterable[str]
_LABEL = r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?"
_PATTERN = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*")
_ADMITTED = "underway.host_admitted"


class AllowedHosts:
    """The names a request's Host header, or a dashboard form's Origin, may carry (any port)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(dict.fromkeys(patterns))
        self.any = ANY_HOST in self.patterns
        self._decide = TrustedHostMiddleware(
            _admit, allowed_hosts=list(self.patterns), www_redirect=False
        )

    async def allows(self, host: str | None) -> bool:
        """Whether `host` (`name` or `name:port`, as in a Host header) is an allowed name."""
        if self.any:
            return True
        headers = [] if host is None else [(b"host", host.encode("latin-1", "replace"))]
        probe: Scope = {"type": "http", "headers": headers}
        await self._decide(probe, _nothing, _discard)
        return bool(probe.get(_ADMITTED))


def allowed_hosts_for(names: HostNames | None, *, tokens: bool) -> AllowedHosts:
    """The loopback names plus `names`; with no names given, any host when tokens protect the
    API (a rebinding page has no token), else the loopback names only."""
    if names is None:
        return AllowedHosts((ANY_HOST,) if tokens else LOOPBACK_HOSTS)
    if isinstance(names, str):
        names = names.split(",")
    return AllowedHosts((*LOOPBACK_HOSTS, *(host_pattern(name) for name in names)))


def host_pattern(name: str) -> str:
    """`name` as TrustedHostMiddleware compares it: lower case, IPv6 in brackets, no port."""
    text = name.strip().lower()
    if text == ANY_HOST:
        return text
    try:
        address = ipaddress.ip_address(text.removeprefix("[").removesuffix("]"))
    except ValueError:
        address = None
    if address is not None:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    if not _PATTERN.fullmatch(text):
        raise ConfigurationError(
            f"bad allowed host {name!r}: give a host name (jobs.example.com), an IP address, "
            "*.example.com for its subdomains or * for any, without a scheme or a port"
        )
    return text


async def _admit(scope: Scope, receive: Receive, send: Send) -> None:
    scope[_ADMITTED] = True


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


async def _discard(message: Message) -> None:
    """TrustedHostMiddleware's own refusal goes nowhere; the API's HostCheck answers instead."""
