"""Generalized personal fields: the coarse value silver holds, or the precise one for ``read:pii``.

A contract's ``generalize`` rule (door GPS, driver positions, postcodes) leaves silver's payload
coarse and the precise value sealed with the PII key in the row's ``pii_sealed`` column. A
caller without ``read:pii`` gets the payload as it is; for a caller with it, the sealed values
are opened and put back in their place before the payload becomes GraphQL objects. The API's
response cache keys answers by the caller's scopes, so one never reaches the other.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLError

from contracts.generated.catalog import SUBJECTS
from graphql_api.auth import READ_PII, Principal
from logistics.pii import DetokenizeError, PiiKeyError, Tokenizer, sealed_tokens, unseal
from logistics.settings import Settings

GENERALIZED_NOTE = (
    "Personal data: generalized (coordinates to a ~1 km grid, a postcode to its district) "
    "unless the caller has the read:pii scope, which gets the precise value."
)


class Revealer:
    """Opens sealed values with the PII key, loaded on first use: most requests never need it."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._tokenizer: Tokenizer | None = None
        self._lock = threading.Lock()

    def tokenizer(self) -> Tokenizer:
        with self._lock:
            if self._tokenizer is None:
                # The pipeline's key, found as the pipeline finds it; a reader never makes a new one.
                self._tokenizer = Tokenizer.for_settings(self._settings, create_local_key=False)
            return self._tokenizer


def payload_for(
    principal: Principal | None,
    revealer: Revealer | None,
    *,
    subject: str,
    payload: Mapping[str, Any],
    sealed: object,
) -> Mapping[str, Any]:
    """``payload`` as this caller may see it: precise values back in place for ``read:pii``."""
    if principal is None or READ_PII not in principal.scopes:
        return payload
    tokens = sealed_tokens(sealed)
    rules = [r for r in SUBJECTS[subject].pii if r.policy == "generalize" and r.path in tokens] if tokens else []
    if not rules:
        return payload
    if revealer is None:
        raise _unavailable("this server was started without access to the PII key")
    out: dict[str, Any] = dict(payload)
    try:
        tokenizer = revealer.tokenizer()
        for rule in rules:
            out = _with_value(out, rule.path.split("."), unseal(tokens[rule.path], path=rule.path, tokenizer=tokenizer))
    except (PiiKeyError, DetokenizeError) as exc:
        raise _unavailable(str(exc)) from None
    return out


def _with_value(node: dict[str, Any], parts: list[str], value: Any) -> dict[str, Any]:
    head, rest = parts[0], parts[1:]
    if not rest:
        return {**node, head: value}
    child = node.get(head)
    if not isinstance(child, dict):
        return node  # the coarse payload lacks the parent: nothing to put the value back into
    return {**node, head: _with_value(child, rest, value)}


def _unavailable(reason: str) -> GraphQLError:
    return GraphQLError(
        f"the precise value of a generalized field could not be revealed: {reason}",
        extensions={"code": "PII_KEY_UNAVAILABLE"},
    )
