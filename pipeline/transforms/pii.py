"""pii: protect personal data named by the contracts' PII rules before anything is stored.

Each rule (``contracts.generated.catalog.SUBJECTS[subject].pii``) names a dotted payload
path and a policy:

- ``mask``: irreversible and shape-preserving for analytics (``john@example.com`` ->
  ``j***@e*****.com``); masking a masked value changes nothing.
- ``tokenize``: deterministic AES-SIV encryption under a key that never lives in the repo,
  so equal values give equal tokens (joins still work) and only a key holder can reverse
  it (``logistics pii detokenize``). The field path is the associated data: a token copied
  into another field does not decrypt there.
- ``redact``: the value becomes the string ``"[REDACTED]"``, not null: a redacted field may be
  required (a street is), and the payload must still satisfy its contract so that replays of
  bronze re-validate cleanly. The registry only accepts ``redact`` on plain string fields, where
  the placeholder always fits.
- ``generalize``: coarsened in place, still valid for its contract (a GeoPoint to a ~1 km grid,
  a postcode to its district); the precise value is sealed (a token, as ``tokenize`` makes)
  into the envelope's ``pii_sealed`` field, which bronze archives and silver keeps in its own
  column under a BigQuery policy tag. Only the key reverses it; the API does, for ``read:pii``.

Everything here is idempotent, so bronze/silver/DLQ replays may pass through it again: a
replayed envelope keeps its sealed precise value as long as it still generalizes to the
payload's value.

The tokenizer and its key live in :mod:`logistics.pii` (the API, which has no Beam, reveals
sealed values with it).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, cast

import orjson

from contracts.generated.catalog import SUBJECTS
from contracts.spec import SEALED_COLUMN, GeneralizePattern, MaskPattern, PiiPattern, PiiRule, SubjectSpec

# Re-exported (``X as X``): the pipeline's callers and tests know the tokenizer by this module.
from logistics.pii import KEY_BYTES as KEY_BYTES
from logistics.pii import TOKEN_PREFIX as TOKEN_PREFIX
from logistics.pii import DetokenizeError as DetokenizeError
from logistics.pii import PiiKeyError as PiiKeyError
from logistics.pii import SealedRecordError as SealedRecordError
from logistics.pii import Tokenizer as Tokenizer
from logistics.pii import canonical_geopoint, canonical_json, json_text, seal, sealed_tokens, unseal
from logistics.pii import looks_like_token as looks_like_token
from pipeline.dead_letter import DeadLetter, received_line
from pipeline.sources.base import SourceRecord
from pipeline.sources.fields import FIELD_ALIASES
from pipeline.sources.landing import from_line
from pipeline.transforms.normalize import as_received

REDACTED = "[REDACTED]"


# --------------------------------------------------------------------------- mask

# Every pattern maps a masked value to itself, which makes masking idempotent.


def _keep_first(text: str) -> str:
    return text[:1] + "*" * (len(text) - 1)


def mask_generic(value: str) -> str:
    return _keep_first(value)


# Each character after the first of a word (a run of non-whitespace): what _keep_first stars in each
# word, found by the regex engine without a Python call per word.
_AFTER_FIRST_OF_WORD = re.compile(r"(?<=\S)\S")


def mask_name(value: str) -> str:
    """Initials only: ``Ada Lovelace`` -> ``A** L*******`` (whitespace kept)."""
    return _AFTER_FIRST_OF_WORD.sub("*", value)


def mask_email(value: str) -> str:
    """``john@example.com`` -> ``j***@e*****.com``: first letters and the top-level domain survive.

    Unlike names, both parts get a fixed number of stars: the length of a mailbox or
    domain narrows down who it is (a 5-letter domain is probably gmail).
    """
    local, at, domain = value.rpartition("@")
    if not at:
        return _keep_first(value)
    host, dot, tld = domain.rpartition(".")
    if not dot:  # no top-level domain: the host is all of it
        host, tld = domain, ""
    # Each part's initial, but a star: an already-masked part has no initial left to keep. (Written
    # out here rather than in a helper: half the cost, and an email is masked on every shipment.)
    return local[:1].replace("*", "") + "***@" + host[:1].replace("*", "") + "*****" + dot + tld


def mask_phone(value: str) -> str:
    """Only the last two digits survive; separators keep the shape (``+1-555-0102`` -> ``+*-***-**02``)."""
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    keep = set(digits[-2:])
    return "".join(ch if i in keep or not ch.isalnum() else "*" for i, ch in enumerate(value))


MASKS: dict[MaskPattern, Callable[[str], str]] = {
    "email": mask_email,
    "phone": mask_phone,
    "name": mask_name,
    "generic": mask_generic,
}


# Whether a value of the pattern comes again, so its mask is worth remembering: a name does (a few
# hundred per feed, on every event of their shipments), an email hardly ever (one per shipment: a
# remembered one would be evicted before it came again, each lookup a cost for nothing).
MASKS_REPEAT: dict[MaskPattern, bool] = {"email": False, "phone": True, "name": True, "generic": True}


def _mask(pattern: PiiPattern) -> Callable[[str], str]:
    return MASKS[cast(MaskPattern, pattern)]  # the registry pairs mask with these only


# --------------------------------------------------------------------------- generalize

# Two decimal places of a degree: 1.1 km of latitude, at most 1.1 km of longitude (less away
# from the equator). A street, let alone a door, is not recognisable at that grid.
COORDINATE_DECIMALS = 2
# A postcode keeps its district: the outward code of a UK-style "SW1A 1AA", else the first
# three characters (a US ZIP3); the rest becomes "*", separators kept.
_POSTCODE_KEPT_CHARACTERS = 3


def generalize_coordinates(value: Any) -> Any:
    """A GeoPoint ``{"lat": 52.52437, "lon": 13.41053}`` -> ``{"lat": 52.52, "lon": 13.41}``.

    Only ``lat`` and ``lon`` are kept (a GeoPoint has nothing else). A coordinate that is not a
    finite number cannot be coarsened, so it is redacted; anything that is not a GeoPoint at
    all is redacted whole.
    """
    if not isinstance(value, dict):
        return REDACTED
    lat, lon = value.get("lat"), value.get("lon")
    # a GPS fix, as parsed JSON holds it: both finite floats (NaN fails the comparisons), the path
    # _coarse_degrees takes for each, without its two calls
    if type(lat) is float and type(lon) is float and -math.inf < lat < math.inf and -math.inf < lon < math.inf:
        return {"lat": _round_degrees(lat), "lon": _round_degrees(lon)}
    coarse = {}
    if "lat" in value:
        coarse["lat"] = _coarse_degrees(value["lat"])
    if "lon" in value:
        coarse["lon"] = _coarse_degrees(value["lon"])
    return coarse


_SCALE = 10**COORDINATE_DECIMALS
# Below this, a coordinate times _SCALE, rounded to a float, is within _TIE_MARGIN / 10 of the exact product
_EXACT_BELOW = 1e9
_TIE_MARGIN = 1e-6


def _round_degrees(value: float) -> float:
    """``round(value, COORDINATE_DECIMALS)`` of a finite float, at a fraction of its cost.

    round() writes the value's exact decimal rounding as text and parses it back: the float
    nearest to n / _SCALE, n the exact ``value * _SCALE`` rounded half to even. ``value * _SCALE``
    as a float is within 1e-7 of the exact product (below _EXACT_BELOW), so unless that is within
    _TIE_MARGIN of a half, rounding it gives the same n; ``n / _SCALE`` (int true division,
    correctly rounded) is then the float nearest to n / _SCALE, and a zero keeps the value's
    sign as round()'s does. Near a half, round() itself decides (test_pii_fast_paths.py holds both alike).
    """
    scaled = value * _SCALE
    if -_EXACT_BELOW < scaled < _EXACT_BELOW:
        nearest = round(scaled)
        if abs(abs(scaled - nearest) - 0.5) > _TIE_MARGIN:
            return nearest / _SCALE if nearest else math.copysign(0.0, value)
    return round(value, COORDINATE_DECIMALS)


def _coarse_degrees(value: Any) -> Any:
    if type(value) is float:  # what parsed JSON holds, the path every GPS fix takes
        return round(value, COORDINATE_DECIMALS) if math.isfinite(value) else REDACTED
    if isinstance(value, bool) or not isinstance(value, int | float):
        return REDACTED
    try:
        degrees = float(value)
    except OverflowError:  # an integer beyond any float
        return REDACTED
    return round(degrees, COORDINATE_DECIMALS) if math.isfinite(degrees) else REDACTED


def generalize_postcode(value: Any) -> str:
    """``SW1A 1AA`` -> ``SW1A ***``; ``60601`` -> ``606**``; ``60601-1234`` -> ``606**-****``."""
    text = _as_text(value).strip()
    outward, space, _ = text.partition(" ")
    kept = len(outward) if space else _POSTCODE_KEPT_CHARACTERS
    rest = text[kept:]
    if rest.isalnum():  # no separator in the rest (a ZIP's last two digits): all of it starred at once
        return text[:kept] + "*" * len(rest)
    return text[:kept] + "".join("*" if ch.isalnum() else ch for ch in rest)


GENERALIZERS: dict[GeneralizePattern, Callable[[Any], Any]] = {
    "coordinates": generalize_coordinates,
    "postcode": generalize_postcode,
}


# Whether a precise value of the pattern comes again, so its sealed token is worth caching: a
# postcode does (a handful per feed), a GPS fix hardly ever (each one would evict a token that repeats).
SEALS_REPEAT: dict[GeneralizePattern, bool] = {"coordinates": False, "postcode": True}


def _generalizer(pattern: PiiPattern) -> Callable[[Any], Any]:
    return GENERALIZERS[cast(GeneralizePattern, pattern)]  # the registry pairs generalize with these only


def _value_at(payload: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        payload = payload.get(part) if isinstance(payload, dict) else None
    return payload


class _Sealing(NamedTuple):
    """A generalize rule, looked up once: where its value is, how it coarsens, whether it repeats."""

    path: str
    parts: tuple[str, ...]
    generalize: Callable[[Any], Any]
    remember: bool


@functools.lru_cache(maxsize=1024)
def _sealings(rules: tuple[PiiRule, ...]) -> tuple[_Sealing, ...]:
    return tuple(
        _Sealing(
            rule.path,
            _parts(rule.path),
            _generalizer(rule.pattern),
            SEALS_REPEAT[cast(GeneralizePattern, rule.pattern)],
        )
        for rule in rules
        if rule.policy == "generalize"
    )


def sealed_precise_values(
    payload: dict[str, Any], rules: tuple[PiiRule, ...], *, existing: object, tokenizer: Tokenizer
) -> str | None:
    """``pii_sealed`` for a payload *before* protection: each generalize rule's value, sealed.

    ``existing`` is the envelope's ``pii_sealed`` when it already had one (a bronze or DLQ
    replay, whose payload is already generalized): a token there is kept when it opens with
    the key and its value generalizes to the payload's. Anything else in it (a producer's
    value, a foreign token) is dropped. None when there is nothing to seal.
    """
    return _sealed(payload, _sealings(rules), existing, tokenizer)


def _sealed(
    payload: dict[str, Any], sealings: tuple[_Sealing, ...], existing: object, tokenizer: Tokenizer
) -> str | None:
    previous = sealed_tokens(existing) if existing is not None else None
    sealed: dict[str, str] = {}
    for path, parts, generalize, remember in sealings:
        value = _value_at(payload, parts)
        if value is None:
            continue
        token = previous.get(path) if previous else None
        if token is not None:
            try:
                if generalize(unseal(token, path=path, tokenizer=tokenizer)) == generalize(value):
                    sealed[path] = token
                    continue
            except DetokenizeError:
                pass
        sealed[path] = seal(value, path=path, tokenizer=tokenizer, remember=remember)
    return canonical_json(sealed) if sealed else None


# stdlib json, not orjson: it takes any integer size and (default=str) any odd type
_text_of = json_text(ensure_ascii=False, default=str)


@functools.cache
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


# --------------------------------------------------------------------------- protect


def _as_text(value: Any) -> str:
    """Rules address text fields; a number or object found there is protected as its JSON text."""
    if isinstance(value, str):
        return value
    return _text_of(value)


def apply_rule(value: Any, rule: PiiRule, *, tokenizer: Tokenizer) -> Any:
    """One present, non-null value under one rule."""
    return _action(rule)(value, tokenizer)


# What a rule does to a present, non-null value, its policy and pattern looked up once.
_Action = Callable[[Any, Tokenizer], Any]


def _redact(value: Any, tokenizer: Tokenizer) -> str:
    return REDACTED


# Texts masked or generalized lately, per function, each cache bounded: a name comes back again and
# again (a feed has a few hundred, on every event of their shipments), a postcode more so, and a
# lookup costs a fraction of a mask. Only exact strings are kept: the functions are pure, so a
# remembered result is the one a call gives. (Clear values stay in memory as the tokenizer's do.)
TEXT_CACHE_SIZE = 4096


@functools.cache
def _remembered(function: Callable[[str], str]) -> Callable[[str], str]:
    return functools.lru_cache(maxsize=TEXT_CACHE_SIZE)(function)


@functools.lru_cache(maxsize=1024)
def _action(rule: PiiRule) -> _Action:
    if rule.policy == "redact":
        return _redact
    if rule.policy == "generalize":
        generalize = _generalizer(rule.pattern)
        if not SEALS_REPEAT[cast(GeneralizePattern, rule.pattern)]:
            return lambda value, tokenizer: generalize(value)
        generalized = _remembered(generalize)
        return lambda value, tokenizer: generalized(value) if type(value) is str else generalize(value)
    if rule.policy == "mask":
        mask = _mask(rule.pattern)
        masked = _remembered(mask) if MASKS_REPEAT[cast(MaskPattern, rule.pattern)] else mask
        return lambda value, tokenizer: masked(value) if type(value) is str else mask(_as_text(value))
    path = rule.path
    return lambda value, tokenizer: tokenizer.tokenize(value if isinstance(value, str) else _as_text(value), path=path)


def _protect_at(node: Any, parts: tuple[str, ...], rule: PiiRule, tokenizer: Tokenizer) -> Any:
    """``node`` with ``rule`` applied at ``parts``, copying only the containers on the way."""
    if isinstance(node, list):
        # Contracts put no PII under arrays today; descending anyway means a list never hides it.
        return [_protect_at(item, parts, rule, tokenizer) for item in node]
    if not isinstance(node, dict) or parts[0] not in node:
        return node
    head, rest = parts[0], parts[1:]
    child = node[head]
    if child is None:
        return node  # a null leaf or a null parent: nothing to protect
    new = dict(node)
    new[head] = _protect_at(child, rest, rule, tokenizer) if rest else apply_rule(child, rule, tokenizer=tokenizer)
    return new


# A subject's rules as one tree of their paths: {key: subtree, or the action of the rule at that leaf}.
_RuleTree = dict[str, "_RuleTree | _Action"]


@functools.lru_cache(maxsize=1024)
def _rule_tree(rules: tuple[PiiRule, ...]) -> _RuleTree | None:
    """The rules as a tree walked once per payload, or None when one path is another's prefix
    (or repeats it), where the order of the rules matters and they are applied one by one.

    When no path contains another, every rule reads an input value no other rule writes, so
    one walk gives what applying them in turn gives, with each container copied once.
    """
    tree: _RuleTree = {}
    for rule in rules:
        node, parts = tree, _parts(rule.path)
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                return None  # a rule sits on this path's parent
            node = child
        if parts[-1] in node:
            return None  # a rule sits below this path, or on it already
        node[parts[-1]] = _action(rule)
    return tree


def _protect_tree(node: Any, tree: _RuleTree, tokenizer: Tokenizer) -> Any:
    """``node`` with ``tree``'s rules applied, copying only the containers on their paths."""
    if isinstance(node, list):
        # Contracts put no PII under arrays today; descending anyway means a list never hides it.
        return [_protect_tree(item, tree, tokenizer) for item in node]
    if not isinstance(node, dict):
        return node
    new = None
    for head, below in tree.items():
        child = node.get(head)
        if child is None:
            continue  # missing, a null leaf or a null parent: nothing to protect
        if new is None:
            new = dict(node)
        if isinstance(below, dict):
            new[head] = _protect_tree(child, below, tokenizer)
        else:
            new[head] = below(child, tokenizer)
    return node if new is None else new


def protect(payload: dict[str, Any], rules: tuple[PiiRule, ...], *, tokenizer: Tokenizer) -> dict[str, Any]:
    """A new payload with every rule applied; the input is never mutated.

    Missing or null fields are left alone. Unchanged subtrees are shared with the input
    (copy-on-write along each rule's path), which is safe because nothing here mutates.
    """
    return _protect(payload, rules, _rule_tree(rules), tokenizer)


def _protect(payload: dict[str, Any], rules: tuple[PiiRule, ...], tree: _RuleTree | None, tokenizer: Tokenizer) -> Any:
    if tree is not None:
        protected = _protect_tree(payload, tree, tokenizer)
        return dict(payload) if protected is payload else protected
    out: dict[str, Any] = dict(payload)
    for rule in rules:
        out = _protect_at(out, _parts(rule.path), rule, tokenizer)
    return out


def rules_for(event_type: str) -> tuple[PiiRule, ...]:
    spec = SUBJECTS.get(event_type)
    return spec.pii if spec else ()


class _SubjectPlan(NamedTuple):
    """A subject's rules, worked out once (:func:`_subject_plan`)."""

    rules: tuple[PiiRule, ...]
    sealings: tuple[_Sealing, ...]  # its generalize rules
    tree: _RuleTree | None  # the rules as one tree (None: applied one by one)
    # protect_envelope_and_payload's fast paths, for the payload it parsed (so may change in place);
    # None where the rules overlap (the tree is None) or a path would need escaping in pii_sealed:
    protect_owned: Callable[[Any, Tokenizer], Any] | None  # applies the rules, returns the payload
    protect_fresh: Callable[[dict[str, Any], Tokenizer], str | None] | None  # seals, then applies the
    # rules, to a payload that came without a pii_sealed (no tokens to keep); returns pii_sealed


@functools.lru_cache(maxsize=1024)
def _subject_plan(event_type: str) -> _SubjectPlan:
    rules = rules_for(event_type)
    sealings = _sealings(rules)
    tree: _RuleTree | None = _rule_tree(rules)  # mypyc infers None from the tuple and its narrowing
    if tree is None:
        return _SubjectPlan(rules, sealings, tree, None, None)
    protect_owned = _owned_protector(tree)
    return _SubjectPlan(rules, sealings, tree, protect_owned, _fresh_protector(sealings, tree, protect_owned))


def _fresh_protector(
    sealings: tuple[_Sealing, ...], tree: _RuleTree, protect_owned: Callable[[Any, Tokenizer], Any]
) -> Callable[[dict[str, Any], Tokenizer], str | None] | None:
    """The plan's ``protect_fresh``: what :func:`_sealed` (no tokens to keep) then
    ``protect_owned`` do, in one call; None when :func:`_fresh_sealer` cannot write the text."""
    if not sealings:

        def protect_only(payload: dict[str, Any], tokenizer: Tokenizer) -> str | None:
            protect_owned(payload, tokenizer)
            return None

        return protect_only
    if len(tree) == 1 and len(sealings) == 1 and len(sealings[0].parts) == 1 and _writes_as_is(sealings[0].path):
        # The subject's one rule generalizes a top-level field (a GPS fix): its value read once
        # for both, the sealed map (as _fresh_sealer writes it) around its one token. A value that
        # is not text is generalized directly: the rule's action (which remembers texts only)
        # would call the same generalizer for it, through two calls more.
        path, (key,), generalize, remember = sealings[0]
        action, canonical_text = cast(_Action, tree[key]), _CANONICAL_TEXT[generalize]
        opening = '{"' + path + '":"'

        def protect_field(payload: dict[str, Any], tokenizer: Tokenizer) -> str | None:
            value = payload.get(key)
            if value is None:  # missing or null: nothing to seal or protect
                return None
            sealed = opening + tokenizer.tokenize(canonical_text(value), path=path, remember=remember) + '"}'
            payload[key] = action(value, tokenizer) if type(value) is str else generalize(value)
            return sealed

        return protect_field
    seal_fresh = _fresh_sealer(sealings)
    if seal_fresh is None:
        return None

    def seal_and_protect(payload: dict[str, Any], tokenizer: Tokenizer) -> str | None:
        sealed = seal_fresh(payload, tokenizer)  # before the precise values are protected
        protect_owned(payload, tokenizer)
        return sealed

    return seal_and_protect


def _owned_protector(tree: _RuleTree) -> Callable[[Any, Tokenizer], Any]:
    """:func:`_protect_tree` for a node nothing else holds (a payload just parsed): its rules
    applied in place instead of copying each container on their paths.

    The same values in the same places: the tree's paths do not overlap, so each rule reads a
    value no other rule writes, and assigning an existing key keeps its position in the dict.
    """
    steps = tuple((head, _owned_protector(below) if isinstance(below, dict) else below) for head, below in tree.items())

    def protect_node(node: Any, tokenizer: Tokenizer) -> Any:
        if isinstance(node, dict):
            for head, step in steps:
                child = node.get(head)
                if child is not None:  # missing, a null leaf or a null parent: nothing to protect
                    node[head] = step(child, tokenizer)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                node[index] = protect_node(item, tokenizer)
        return node

    return protect_node


def _fresh_sealer(sealings: tuple[_Sealing, ...]) -> Callable[[dict[str, Any], Tokenizer], str | None] | None:
    """:func:`_sealed` of a payload that came without a ``pii_sealed`` (no tokens to keep),
    writing its text directly: None when a path needs escaping (no contract's does).

    The text is :func:`canonical_json`'s of ``{path: token}``: keys sorted, no spaces, and no
    escapes, since the paths are printable ASCII without ``"`` or ``\\`` (checked here) and a
    token is ``tok:v1:`` and base64url. Every token is freshly made: the JSON text of a value
    never starts with ``tok:v1:``, so the tokenizer never hands it back as an existing token.
    """
    if not sealings:
        return None
    if not all(_writes_as_is(path) for path, *_ in sealings):
        return None
    sealers = tuple(
        (f'"{path}":"', path, _getter(parts), _CANONICAL_TEXT[generalize], remember)
        for path, parts, generalize, remember in sorted(sealings, key=lambda sealing: sealing.path)
    )

    def seal_fresh(payload: dict[str, Any], tokenizer: Tokenizer) -> str | None:
        entries = []
        for opening, path, value_at, canonical_text, remember in sealers:
            value = value_at(payload)
            if value is not None:
                entries.append(opening + tokenizer.tokenize(canonical_text(value), path=path, remember=remember) + '"')
        return "{" + ",".join(entries) + "}" if entries else None

    return seal_fresh


def _writes_as_is(key: str) -> bool:
    """Whether json (and so canonical_json) writes ``key`` as itself between quotes."""
    return key.isascii() and key.isprintable() and '"' not in key and "\\" not in key


def _getter(parts: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    """``_value_at(payload, parts)`` for a payload that is a dict, a top-level key read directly."""
    if len(parts) == 1:
        return operator.methodcaller("get", parts[0])
    return functools.partial(_value_at, parts=parts)


_remembered_canonical_json = _remembered(canonical_json)


def _canonical_postcode(value: Any) -> str:
    """:func:`canonical_json` of a precise postcode: a handful per feed, so remembered (a string only)."""
    return _remembered_canonical_json(value) if type(value) is str else canonical_json(value)


# The JSON text a generalizer's precise value is sealed as: canonical_json's, for a GeoPoint without
# its general check, a postcode remembered.
_CANONICAL_TEXT: dict[Callable[[Any], Any], Callable[[Any], str]] = {
    generalize_coordinates: canonical_geopoint,
    generalize_postcode: _canonical_postcode,
}


class _Plans(dict[str, _SubjectPlan]):
    """Every contract's subject's plan, worked out at import: a lookup per event is a dict's (a
    third of the cached call's cost). An event type no contract names gets its plan from
    :func:`_subject_plan`'s bounded cache, not kept here."""

    def __missing__(self, event_type: str) -> _SubjectPlan:
        return _subject_plan(event_type)


_PLANS = _Plans({event_type: _subject_plan(event_type) for event_type in SUBJECTS})


def protect_envelope(envelope: dict[str, Any], *, tokenizer: Tokenizer) -> dict[str, Any]:
    """An envelope (``payload`` as JSON text, see normalize) with its subject's rules applied,
    and ``pii_sealed`` holding the precise values its generalize rules coarsened (or None)."""
    if not _PLANS[envelope["event_type"]].rules:
        return _without_sealed(envelope)  # no payload to parse: nothing reads it here
    return protect_envelope_and_payload(envelope, tokenizer=tokenizer)[0]


def _without_sealed(envelope: dict[str, Any]) -> dict[str, Any]:
    """An envelope of a subject with no PII: nothing of its is sealed, so a pii_sealed a
    producer sent is not kept."""
    return {**envelope, SEALED_COLUMN: None} if envelope.get(SEALED_COLUMN) is not None else envelope


def protect_envelope_and_payload(envelope: dict[str, Any], *, tokenizer: Tokenizer) -> tuple[dict[str, Any], Any]:
    """:func:`protect_envelope`, and the protected envelope's payload as an object: what its
    ``payload`` text parses to (the stage builds the silver row from it without parsing again).
    The object is the caller's own: nothing else holds it or any part of it."""
    plan = _PLANS[envelope["event_type"]]
    if not plan.rules:  # most event types carry no PII: no rules to apply, no JSON to write back
        envelope = _without_sealed(envelope)
        return envelope, orjson.loads(envelope["payload"])
    payload = orjson.loads(envelope["payload"])
    if not isinstance(payload, dict):
        return envelope, payload
    existing = envelope.get(SEALED_COLUMN)
    # The payload is ours (just parsed): the fast paths protect it in place.
    if existing is None and plan.protect_fresh is not None:
        sealed = plan.protect_fresh(payload, tokenizer)
    else:
        rules, sealings, tree, protect_owned, _ = plan
        # Only generalize rules seal anything: the others are skipped without a look.
        sealed = _sealed(payload, sealings, existing, tokenizer) if sealings else None
        if protect_owned is None:
            payload = _protect(payload, rules, tree, tokenizer)
        else:
            protect_owned(payload, tokenizer)
    # orjson reads back from this text exactly the values it wrote from: JSON's own kinds, and the
    # protected values are strings, rounded floats and dicts of them (test_stage.py holds it to that)
    # a copy, then two keys set: the dict {**envelope, "payload": ..., SEALED_COLUMN: ...} makes (the
    # same keys in the same order), at half the cost
    protected = envelope.copy()
    protected["payload"], protected[SEALED_COLUMN] = orjson.dumps(payload).decode("utf-8"), sealed
    return protected, payload


def protect_envelopes(envelopes: Iterable[dict[str, Any]], *, tokenizer: Tokenizer) -> list[dict[str, Any]]:
    """:func:`protect_envelope` of each envelope, in order (a batch shares the tokenizer's cache)."""
    return [protect_envelope(envelope, tokenizer=tokenizer) for envelope in envelopes]


# --------------------------------------------------------------------------- raw text (DLQ)

# A rejected record may name no known subject, or not even parse. These are every path
# any contract marks as PII (first rule per path wins), used when the subject is unknown.
ALL_RULES: tuple[PiiRule, ...] = tuple({r.path: r for spec in SUBJECTS.values() for r in reversed(spec.pii)}.values())
# leaf name -> mask, for PII found by key name where no rule addresses it ("email", "phone", ...)
_LEAF_MASKS: dict[str, Callable[[str], str]] = {
    rule.path.rsplit(".", 1)[-1]: _mask(rule.pattern if rule.policy == "mask" else "generic") for rule in ALL_RULES
} | {"phone": mask_phone}
_PII_KEYS = frozenset(_LEAF_MASKS)
# "key": "value" pairs for PII leaf names, found even in truncated JSON
_KEYED_STRING = re.compile(r'"(' + "|".join(map(re.escape, sorted(_PII_KEYS))) + r')"(\s*:\s*)"((?:[^"\\]|\\.)*)"')
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# digit runs with phone separators; not ISO dates, not digits glued to ids or tokens
_PHONE = re.compile(r"(?<![\w:.-])(?!\d{4}-\d{2}-\d{2})\+?\d[\d\s().-]{6,}\d(?![\w:])")


def protect_raw(raw: str, *, tokenizer: Tokenizer) -> str:
    """PII-safe text of a raw record (a DLQ row's ``raw``, for people to read), parseable or not;
    idempotent.

    A JSON envelope, under any of the envelope's field names (``payload``/``data``/``body``,
    ``event_type``/``eventType``/...), gets its subject's rules applied to the payload exactly as
    silver would (generalized values keep their precise value sealed in ``pii_sealed``). When the
    subject is unknown, every contract's rules apply and strings under any PII key name are
    masked. Email-shaped strings are masked anywhere. Text that does not parse is scrubbed by
    pattern (PII key names, emails, phone numbers); a street in free text cannot be recognised
    by pattern. The record itself is kept sealed beside it (protect_dead_letter).
    """
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return scrub_text(raw)
    protected = _protect_record(record, tokenizer)
    return raw if protected == record else orjson.dumps(protected).decode("utf-8")


_PAYLOAD_KEYS = frozenset(FIELD_ALIASES["payload"])


def _protect_record(record: Any, tokenizer: Tokenizer) -> Any:
    if not isinstance(record, dict):
        return _mask_emails(_mask_pii_keys(record))
    event_type = next((record[k] for k in FIELD_ALIASES["event_type"] if isinstance(record.get(k), str)), None)
    spec = SUBJECTS.get(event_type) if event_type is not None else None
    sealed = None
    for key in [key for key in record if key in _PAYLOAD_KEYS]:  # in the record's order
        payload = _payload_object(record[key])
        if spec and isinstance(payload, dict):
            existing = sealed or record.get(SEALED_COLUMN)
            sealed = sealed_precise_values(payload, spec.pii, existing=existing, tokenizer=tokenizer) or sealed
    if sealed:
        record = {**record, SEALED_COLUMN: sealed}  # generalized values keep their precise value, sealed
    envelope = _mask_emails(_mask_pii_keys({k: v for k, v in record.items() if k not in _PAYLOAD_KEYS}))
    return {k: _protect_payload(v, spec, tokenizer) if k in _PAYLOAD_KEYS else envelope[k] for k, v in record.items()}


def _payload_object(value: Any) -> Any:
    """A payload as sent: an object, or (a normalized envelope, a confused producer) its JSON text."""
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def _protect_payload(value: Any, spec: SubjectSpec | None, tokenizer: Tokenizer) -> Any:
    payload = _payload_object(value)
    if isinstance(value, str) and payload is None and value.strip() != "null":
        return scrub_text(value)  # text that is not JSON
    if isinstance(payload, dict):
        payload = protect(payload, spec.pii if spec else ALL_RULES, tokenizer=tokenizer)
    payload = _mask_emails(payload if spec else _mask_pii_keys(payload))
    return orjson.dumps(payload).decode("utf-8") if isinstance(value, str) else payload


def _mask_emails(node: Any) -> Any:
    if isinstance(node, str):
        return _EMAIL.sub(lambda m: mask_email(m.group()), node)
    if isinstance(node, dict):
        return {k: _mask_emails(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_emails(v) for v in node]
    return node


def _mask_pii_keys(node: Any) -> Any:
    """Strings under any PII key name (``email``, ``phone``, ``street``, ...), at any depth."""
    if isinstance(node, dict):
        return {k: _mask_pii_value(k, v) if k in _PII_KEYS else _mask_pii_keys(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_mask_pii_keys(v) for v in node]
    return node


def _mask_pii_value(key: str, value: Any) -> Any:
    if isinstance(value, str) and not looks_like_token(value):
        return _LEAF_MASKS[key](value)
    return _mask_pii_keys(value)


def scrub_text(text: str) -> str:
    """Free text (a log line, an error reason, unparseable input) with PII-looking parts masked."""

    def keyed(match: re.Match[str]) -> str:
        key, sep, value = match.groups()
        return match.group(0) if looks_like_token(value) else f'"{key}"{sep}"{_LEAF_MASKS[key](value)}"'

    text = _KEYED_STRING.sub(keyed, text)
    text = _EMAIL.sub(lambda m: mask_email(m.group()), text)
    return _PHONE.sub(lambda m: mask_phone(m.group()), text)


# --------------------------------------------------------------------------- Beam


DLQ_ORIGINAL = "dlq.original"  # what a DLQ row's sealed original is sealed for (associated data)
DLQ_IDENTITY = "dlq.identity"  # the record but its publish time, sealed: names the row (DeadLetter.dlq_id)


def protect_dead_letter(dead: DeadLetter, *, tokenizer: Tokenizer) -> DeadLetter:
    """A DLQ record that holds no clear PII and can still be replayed exactly; idempotent.

    The record as received is sealed under the key (``sealed``, the row's ``original``) and the
    clear copy dropped; ``raw`` keeps its text protected for people to read, the reason is
    scrubbed (reasons describe values rather than quote them; this is the second guard), and the
    envelope fields have emails masked.
    """
    if dead.received is not None:
        record = dead.received
    elif dead.sealed is None:  # made without its record: its raw text is what there is to replay
        record = as_received(dead.raw, source_system=dead.source_system or "file")
    else:  # protected already
        return dead
    sealed = tokenizer.seal_bytes(received_line(record), purpose=DLQ_ORIGINAL)
    # Named without its publish time: a redelivery or a bridge's republish is the same record.
    identity = tokenizer.seal_bytes(received_line(dataclasses.replace(record, publish_time=None)), purpose=DLQ_IDENTITY)
    return dataclasses.replace(
        dead,
        raw=protect_raw(dead.raw, tokenizer=tokenizer),
        reason=scrub_text(dead.reason),
        event_id=_mask_emails(dead.event_id),
        event_type=_mask_emails(dead.event_type),
        source_system=_mask_emails(dead.source_system),
        trace_id=_mask_emails(dead.trace_id),
        received=None,
        sealed=sealed,
        identity=identity,
    )


def open_original(sealed: str, *, tokenizer: Tokenizer) -> SourceRecord:
    """The record a DLQ row's ``original`` holds, exactly as the pipeline received it;
    :class:`SealedRecordError` when this key did not seal it."""
    return from_line(tokenizer.open_bytes(sealed, purpose=DLQ_ORIGINAL))
