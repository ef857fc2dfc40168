"""Who is calling: API keys (``X-API-Key``) or bearer tokens, mapped to scopes by configuration.

Only SHA-256 digests of keys are configured. Scopes: ``read`` for the shipment graph and the
REST endpoints, ``read:pii`` on top for the fields the contract registry marks as personal data.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from logistics.settings import ApiKeySettings

READ = "read"
READ_PII = "read:pii"


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]


class KeyRing:
    def __init__(self, keys: list[ApiKeySettings]) -> None:
        self._by_digest = {key.sha256: Principal(name=key.name, scopes=frozenset(key.scopes)) for key in keys}

    def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        """The caller for these request headers, or None when no valid key was sent."""
        secret = presented_key(headers)
        if not secret:
            return None
        digest = hashlib.sha256(secret.encode()).hexdigest()
        # Compare against every digest in constant time: no timing hint about which keys exist.
        match = None
        for known, principal in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                match = principal
        return match


def presented_key(headers: Mapping[str, str]) -> str | None:
    if key := headers.get("x-api-key"):
        return key.strip()
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class RequiresScope(BasePermission):
    """Field guard: the caller's key must carry ``scope``; otherwise a field-level error, never the value."""

    error_extensions = {"code": "FORBIDDEN"}  # noqa: RUF012 - strawberry reads it as a class attribute

    def __init__(self, scope: str) -> None:
        self.scope = scope
        self.message = f"this field holds personal data: it needs the '{scope}' scope"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal: Principal | None = getattr(info.context, "principal", None)
        return principal is not None and self.scope in principal.scopes
