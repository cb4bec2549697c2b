"""Bearer tokens with scopes: `jobs:view` for reading, `jobs:manage` for everything else."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Iterable, Mapping

from starlette.requests import Request

from ..errors import ConfigurationError

VIEW = "jobs:view"
MANAGE = "jobs:manage"
SCOPES = (VIEW, MANAGE)
#: What each scope grants: managing includes viewing.
GRANTS = {VIEW: frozenset({VIEW}), MANAGE: frozenset({VIEW, MANAGE})}
TOKENS_ENV = "UNDERWAY_TOKENS"
TokenSpec = str | Mapping[str, str | Iterable[str]] | None


def parse_tokens(text: str) -> dict[str, frozenset[str]]:
    """Read `token1:jobs:view,token2:jobs:manage` (a token may be listed more than once)."""
    tokens: dict[str, frozenset[str]] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        token, _, scope = entry.partition(":")
        tokens[token] = tokens.get(token, frozenset()) | _grants(token, scope)
    return tokens


def _grants(token: str, scope: str) -> frozenset[str]:
    if not token or scope not in GRANTS:
        raise ConfigurationError(
            f"bad token entry {token[:4]}…:{scope!r}: write TOKEN:{VIEW} or TOKEN:{MANAGE}"
        )
    return GRANTS[scope]


def resolve_tokens(spec: TokenSpec) -> dict[str, frozenset[str]]:
    """Tokens from `create_api(tokens=...)`, else from UNDERWAY_TOKENS; empty means none."""
    if spec is None:
        return parse_tokens(os.environ.get(TOKENS_ENV, ""))
    if isinstance(spec, str):
        return parse_tokens(spec)
    tokens: dict[str, frozenset[str]] = {}
    for token, scopes in spec.items():
        for scope in [scopes] if isinstance(scopes, str) else scopes:
            tokens[token] = tokens.get(token, frozenset()) | _grants(token, scope)
    return tokens


class Guard:
    """Knows the configured tokens and which scopes each grants."""

    def __init__(self, tokens: Mapping[str, frozenset[str]], *, insecure: bool = False) -> None:
        self._digests = [(_digest(t), scopes) for t, scopes in tokens.items()]
        self.insecure = insecure

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def scopes_of(self, presented: str) -> frozenset[str]:
        """Scopes of a token; compares against every token in constant time."""
        digest = _digest(presented)
        granted: frozenset[str] = frozenset()
        for known, scopes in self._digests:
            if hmac.compare_digest(digest, known):
                granted = granted | scopes
        return granted


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def is_local(request: Request) -> bool:
    """True for loopback clients (and Unix sockets, which have no client address)."""
    if request.client is None:
        return True
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False
