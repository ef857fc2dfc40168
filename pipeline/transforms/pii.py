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

Everything here is idempotent, so bronze/silver/DLQ replays may pass through it again.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import apache_beam as beam
import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from contracts.generated.catalog import SUBJECTS
from contracts.spec import MaskPattern, PiiRule, SubjectSpec
from pipeline.dead_letter import DeadLetter, received_line
from pipeline.sources.base import SourceRecord
from pipeline.sources.landing import from_line
from pipeline.transforms.normalize import FIELD_ALIASES, as_received

if TYPE_CHECKING:
    from logistics.settings import PiiSettings, Settings

TOKEN_PREFIX = "tok:v1:"  # the version names the token format, so a future format can coexist
SEALED_PREFIX = "sealed:v1:"  # a whole record sealed under the key (a DLQ row's original)
KEY_BYTES = 64  # AES-SIV with two AES-256 keys
_SIV_TAG_BYTES = 16


REDACTED = "[REDACTED]"


class PiiKeyError(RuntimeError):
    """The tokenization key is missing or malformed."""


class DetokenizeError(ValueError):
    """A token could not be reversed: wrong key, wrong field path, or not a token at all."""


class UnsealError(ValueError):
    """A sealed record could not be opened: another key sealed it, or it is damaged."""


# --------------------------------------------------------------------------- tokenize


class Tokenizer:
    """Deterministic, keyed, reversible tokens (AES-SIV, RFC 5297) for one key."""

    __slots__ = ("_siv",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise PiiKeyError(f"a PII key is {KEY_BYTES} bytes (AES-SIV-512), got {len(key)}")
        self._siv = AESSIV(key)

    def __repr__(self) -> str:
        return "Tokenizer(<key hidden>)"  # never print key material, even in tracebacks

    def __reduce__(self) -> Any:
        # A Tokenizer must not be pickled into a Beam graph (the graph is uploaded and logged):
        # DoFns carry the key's *source* and build the Tokenizer on the worker in setup().
        raise TypeError("Tokenizer holds key material and is not picklable; pass PiiSettings to the DoFn instead")

    @staticmethod
    def generate_key() -> str:
        """A fresh random key, base64-encoded (what ``logistics pii generate-key`` prints)."""
        return base64.b64encode(AESSIV.generate_key(KEY_BYTES * 8)).decode("ascii")

    @classmethod
    def from_base64(cls, text: str) -> Tokenizer:
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise PiiKeyError("the PII key is not valid base64 (make one with `logistics pii generate-key`)") from None
        return cls(key)

    @classmethod
    def from_env(cls, name: str = "LOGISTICS_PII_KEY", *, environ: Mapping[str, str] | None = None) -> Tokenizer:
        """The key from environment variable ``name`` (base64)."""
        value = (os.environ if environ is None else environ).get(name)
        if not value:
            raise PiiKeyError(
                f"no PII tokenization key: set {name} to a base64 key "
                "(for local use: `export " + name + "=$(logistics pii generate-key)`)"
            )
        return cls.from_base64(value)

    @classmethod
    def from_secret_manager(cls, resource: str) -> Tokenizer:
        """The key from Secret Manager, e.g. ``projects/P/secrets/pii-key/versions/latest``."""
        from google.cloud import secretmanager

        client = secretmanager.SecretManagerServiceClient()
        payload = client.access_secret_version(name=resource).payload.data
        return cls.from_base64(payload.decode("ascii"))

    @classmethod
    def from_settings(
        cls,
        pii: PiiSettings,
        *,
        project_id: str | None,
        data_dir: Path | None,
        create_local_key: bool = True,
    ) -> Tokenizer:
        """The one place that decides where the key comes from, for the pipeline and for every
        reader of what it wrote (``logistics pii detokenize``, ``logistics dlq replay``), in this
        order: Secret Manager when a secret is configured (cloud), else the environment variable,
        else (local only) the key file ``data_dir / pii.local_key_file``.

        The pipeline creates that file on first use (``create_local_key``); a reader never does:
        a new key opens nothing the pipeline wrote, so a reader without the key is told where it
        looked instead.
        """
        if pii.secret:
            resource = pii.secret
            if not resource.startswith("projects/"):
                if not project_id:
                    raise PiiKeyError(f"pii.secret {resource!r} is a short name: a GCP project id is needed")
                resource = f"projects/{project_id}/secrets/{resource}/versions/latest"
            return cls.from_secret_manager(resource)
        if os.environ.get(pii.key_env):
            return cls.from_env(pii.key_env)
        if pii.local_key_file and data_dir is not None:
            path = data_dir / pii.local_key_file
            if create_local_key or path.exists():
                return cls.from_base64(_local_key(path))
            raise PiiKeyError(
                f"no PII key: {pii.key_env} is unset and {path} does not exist; set {pii.key_env} to the key "
                "the pipeline used, or LOGISTICS_STORAGE__DATA_DIR to its data folder (a new key opens none of "
                "its tokens or sealed DLQ records)"
            )
        if not create_local_key:
            raise PiiKeyError(
                f"no PII key: {pii.key_env} is unset and neither pii.secret nor pii.local_key_file is configured; "
                f"set {pii.key_env} to the key the pipeline used (a new key opens none of its tokens or sealed DLQ "
                "records)"
            )
        return cls.from_env(pii.key_env)

    @classmethod
    def for_settings(cls, settings: Settings, *, create_local_key: bool = True) -> Tokenizer:
        """:meth:`from_settings` with the project and data folder of ``settings``."""
        return cls.from_settings(
            settings.pii,
            project_id=settings.gcp.project_id,
            data_dir=settings.storage.resolved_data_dir(),
            create_local_key=create_local_key,
        )

    def tokenize(self, value: str, *, path: str) -> str:
        """``value`` -> ``tok:v1:<base64url>``; a token this key minted for ``path`` is returned as is."""
        if self._decrypt(value, path=path) is not None:
            return value  # already a token of ours: never double-tokenize on replay
        sealed = self._siv.encrypt(value.encode("utf-8"), [path.encode("utf-8")])
        return TOKEN_PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def detokenize(self, token: str, *, path: str) -> str:
        """The clear value of ``token`` minted for field ``path``; :class:`DetokenizeError` otherwise."""
        if not looks_like_token(token):
            raise DetokenizeError(f"not a PII token (expected the prefix {TOKEN_PREFIX!r} and base64url data)")
        clear = self._decrypt(token, path=path)
        if clear is None:
            raise DetokenizeError(
                f"the token does not open with this key for field {path!r}: wrong key, wrong --path, or a damaged token"
            )
        return clear

    def seal(self, data: bytes, *, purpose: str) -> str:
        """``data`` encrypted whole (deterministic AES-SIV, ``purpose`` as associated data):
        ``sealed:v1:<base64url>``. Equal data seal alike, so a sealed record can key a row."""
        sealed = self._siv.encrypt(data, [b"sealed", purpose.encode("utf-8")])
        return SEALED_PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")

    def unseal(self, text: str, *, purpose: str) -> bytes:
        """The bytes :meth:`seal` sealed for ``purpose``; :class:`UnsealError` otherwise."""
        body = text[len(SEALED_PREFIX) :] if text.startswith(SEALED_PREFIX) else None
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)) if body is not None else b""
            return self._siv.decrypt(sealed, [b"sealed", purpose.encode("utf-8")])
        except (binascii.Error, ValueError, InvalidTag):
            raise UnsealError(
                "the sealed record does not open with this key: another PII key sealed it, or it is damaged"
            ) from None

    def _decrypt(self, value: str, *, path: str) -> str | None:
        sealed = _token_bytes(value)
        if sealed is None:
            return None
        try:
            return self._siv.decrypt(sealed, [path.encode("utf-8")]).decode("utf-8")
        except (InvalidTag, UnicodeDecodeError):
            return None


def _local_key(path: Path) -> str:
    """Read the local key file, creating it (owner-only) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(Tokenizer.generate_key())
    return path.read_text().strip()


def _token_bytes(value: str) -> bytes | None:
    if not value.startswith(TOKEN_PREFIX):
        return None
    body = value[len(TOKEN_PREFIX) :]
    try:
        sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return None
    return sealed if len(sealed) >= _SIV_TAG_BYTES else None


def looks_like_token(value: object) -> bool:
    """Shape only (prefix + base64url): whether it opens is :meth:`Tokenizer.detokenize`'s job."""
    return isinstance(value, str) and _token_bytes(value) is not None


# --------------------------------------------------------------------------- mask

# Every pattern maps a masked value to itself, which makes masking idempotent.


def _keep_first(text: str) -> str:
    return text[:1] + "*" * (len(text) - 1)


def mask_generic(value: str) -> str:
    return _keep_first(value)


def mask_name(value: str) -> str:
    """Initials only: ``Ada Lovelace`` -> ``A** L*******`` (whitespace kept)."""
    return re.sub(r"\S+", lambda m: _keep_first(m.group()), value)


def mask_email(value: str) -> str:
    """``john@example.com`` -> ``j***@e*****.com``: first letters and the top-level domain survive.

    Unlike names, both parts get a fixed number of stars: the length of a mailbox or
    domain narrows down who it is (a 5-letter domain is probably gmail).
    """
    local, at, domain = value.rpartition("@")
    if not at:
        return _keep_first(value)
    host, dot, tld = domain.rpartition(".")
    return f"{_initial(local)}***@{_initial(host if dot else domain)}*****" + (dot + tld if dot else "")


def _initial(part: str) -> str:
    return part[:1].replace("*", "")  # an already-masked part has no initial left to keep


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


# --------------------------------------------------------------------------- protect


def _as_text(value: Any) -> str:
    """Rules address text fields; a number or object found there is protected as its JSON text."""
    if isinstance(value, str):
        return value
    # stdlib json, not orjson: it takes any integer size and (default=str) any odd type
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def apply_rule(value: Any, rule: PiiRule, *, tokenizer: Tokenizer) -> Any:
    """One present, non-null value under one rule."""
    if rule.policy == "redact":
        return REDACTED
    text = _as_text(value)
    if rule.policy == "mask":
        return MASKS[rule.pattern](text)
    return tokenizer.tokenize(text, path=rule.path)


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


def protect(payload: dict[str, Any], rules: tuple[PiiRule, ...], *, tokenizer: Tokenizer) -> dict[str, Any]:
    """A new payload with every rule applied; the input is never mutated.

    Missing or null fields are left alone. Unchanged subtrees are shared with the input
    (copy-on-write along each rule's path), which is safe because nothing here mutates.
    """
    out: dict[str, Any] = dict(payload)
    for rule in rules:
        out = _protect_at(out, tuple(rule.path.split(".")), rule, tokenizer)
    return out


def rules_for(event_type: str) -> tuple[PiiRule, ...]:
    spec = SUBJECTS.get(event_type)
    return spec.pii if spec else ()


def protect_envelope(envelope: dict[str, Any], *, tokenizer: Tokenizer) -> dict[str, Any]:
    """An envelope (``payload`` as JSON text, see normalize) with its subject's rules applied."""
    rules = rules_for(envelope["event_type"])
    if not rules:
        return envelope  # most event types carry no PII: skip the JSON round trip
    payload = orjson.loads(envelope["payload"])
    if not isinstance(payload, dict):
        return envelope
    protected = protect(payload, rules, tokenizer=tokenizer)
    return {**envelope, "payload": orjson.dumps(protected).decode("utf-8")}


# --------------------------------------------------------------------------- raw text (DLQ)

# A rejected record may name no known subject, or not even parse. These are every path
# any contract marks as PII (first rule per path wins), used when the subject is unknown.
ALL_RULES: tuple[PiiRule, ...] = tuple({r.path: r for spec in SUBJECTS.values() for r in reversed(spec.pii)}.values())
# leaf name -> mask, for PII found by key name where no rule addresses it ("email", "phone", ...)
_LEAF_MASKS: dict[str, Callable[[str], str]] = {
    rule.path.rsplit(".", 1)[-1]: MASKS[rule.pattern if rule.policy == "mask" else "generic"] for rule in ALL_RULES
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
    silver would. When the subject is unknown, every contract's rules apply and strings under any
    PII key name are masked. Email-shaped strings are masked anywhere. Text that does not parse
    is scrubbed by pattern (PII key names, emails, phone numbers); a street in free text cannot
    be recognised by pattern. The record itself is kept sealed beside it (protect_dead_letter).
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
    envelope = _mask_emails(_mask_pii_keys({k: v for k, v in record.items() if k not in _PAYLOAD_KEYS}))
    return {k: _protect_payload(v, spec, tokenizer) if k in _PAYLOAD_KEYS else envelope[k] for k, v in record.items()}


def _protect_payload(value: Any, spec: SubjectSpec | None, tokenizer: Tokenizer) -> Any:
    payload = value
    if isinstance(value, str):  # a normalized envelope (or a confused producer) sends it as JSON text
        try:
            payload = orjson.loads(value)
        except orjson.JSONDecodeError:
            return scrub_text(value)
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


def protect_dead_letter(dead: DeadLetter, *, tokenizer: Tokenizer) -> DeadLetter:
    """A DLQ record that holds no clear PII and can still be replayed exactly; idempotent.

    The record as received is sealed under the key (``sealed``, the row's ``original``) and the
    clear copy dropped; ``raw`` keeps its text protected for people to read, the reason is
    scrubbed (reasons describe values rather than quote them; this is the second guard), and the
    envelope fields have emails masked.
    """
    if dead.received is not None:
        sealed = tokenizer.seal(received_line(dead.received), purpose=DLQ_ORIGINAL)
    elif dead.sealed is None:  # made without its record: its raw text is what there is to replay
        record = as_received(dead.raw, source_system=dead.source_system or "file")
        sealed = tokenizer.seal(received_line(record), purpose=DLQ_ORIGINAL)
    else:
        sealed = dead.sealed
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
    )


def open_original(sealed: str, *, tokenizer: Tokenizer) -> SourceRecord:
    """The record a DLQ row's ``original`` holds, exactly as the pipeline received it."""
    return from_line(tokenizer.unseal(sealed, purpose=DLQ_ORIGINAL))


class ProtectPiiDoFn(beam.DoFn):
    """Envelope -> protected envelope; DeadLetter -> protected DeadLetter.

    Carries the key's *source* (settings), never the key: the Tokenizer is built on each
    worker in ``setup``, so no key material is pickled into the job graph.
    """

    def __init__(self, *, pii: PiiSettings, project_id: str | None = None, data_dir: Path | None = None) -> None:
        super().__init__()
        self._pii, self._project_id, self._data_dir = pii, project_id, data_dir
        self._tokenizer: Tokenizer | None = None

    def setup(self) -> None:
        self._tokenizer = Tokenizer.from_settings(self._pii, project_id=self._project_id, data_dir=self._data_dir)

    def process(self, element: dict[str, Any] | DeadLetter) -> Iterator[dict[str, Any] | DeadLetter]:
        assert self._tokenizer is not None, "setup() builds the tokenizer"
        if isinstance(element, DeadLetter):
            yield protect_dead_letter(element, tokenizer=self._tokenizer)
        else:
            yield protect_envelope(element, tokenizer=self._tokenizer)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokenizer": None}
