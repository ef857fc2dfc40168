"""PII tokens and their key: deterministic AES-SIV tokens, and where the key comes from.

Shared by the pipeline (``tokenize`` rules, and the sealed precise values of ``generalize``
rules), the API (which reveals sealed precise values to ``read:pii`` callers) and the CLI
(``logistics pii detokenize``). The key never lives in the repo: ``LOGISTICS_PII_KEY``, Secret
Manager in the cloud (``pii.secret``), or locally a key generated once into
``.data/secrets/pii.key``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from logistics.errors import LogisticsError

if TYPE_CHECKING:
    from logistics.settings import PiiSettings, Settings

TOKEN_PREFIX = "tok:v1:"  # the version names the token format, so a future format can coexist
SEALED_RECORD_PREFIX = "sealed:v1:"  # bytes sealed whole under the key (a DLQ row's original record)
KEY_BYTES = 64  # AES-SIV with two AES-256 keys
_SIV_TAG_BYTES = 16
# Tokens a Tokenizer remembers (the least recently used go first): a few hundred bytes each, a few MB.
TOKEN_CACHE_SIZE = 16_384


class PiiKeyError(LogisticsError, RuntimeError):
    """The tokenization key is missing or malformed."""


class DetokenizeError(LogisticsError, ValueError):
    """A token could not be reversed: wrong key, wrong field path, or not a token at all."""


class SealedRecordError(LogisticsError, ValueError):
    """Sealed bytes could not be opened: another key sealed them, or they are damaged."""


class Tokenizer:
    """Deterministic, keyed, reversible tokens (AES-SIV, RFC 5297) for one key.

    Equal (value, path) always give the same token, so the tokens of recently seen values are
    kept (a bounded LRU of ``cache_size``): the personal data of a shipment repeats across its
    events, and each repeat then costs a lookup instead of a decryption attempt and an
    encryption. The cache lives and dies with the instance, which is never pickled.
    """

    __slots__ = ("_associated", "_siv", "_tokens")

    def __init__(self, key: bytes, *, cache_size: int = TOKEN_CACHE_SIZE) -> None:
        if len(key) != KEY_BYTES:
            raise PiiKeyError(f"a PII key is {KEY_BYTES} bytes (AES-SIV-512), got {len(key)}")
        self._siv = AESSIV(key)  # one cipher object per key, reused by every call
        self._tokens = functools.lru_cache(maxsize=cache_size)(self._mint)
        self._associated: dict[str, list[bytes]] = {}  # path -> its associated data, encoded once

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
        reader of what it wrote (the API, ``logistics pii detokenize``, ``logistics dlq replay``),
        in this order: Secret Manager when a secret is configured (cloud), else the environment
        variable, else (local only) the key file ``data_dir / pii.local_key_file``.

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

    def tokenize(self, value: str, *, path: str, remember: bool = True) -> str:
        """``value`` -> ``tok:v1:<base64url>``; a token this key minted for ``path`` is returned as is.

        ``remember=False`` for a value that will hardly come again (a precise GPS fix): it is
        minted without the cache, so it neither costs a cache entry nor evicts one that repeats.
        """
        return self._tokens(value, path) if remember else self._mint(value, path)

    @property
    def cached_tokens(self) -> int:
        """How many tokens the cache holds now (at most ``cache_size``)."""
        return self._tokens.cache_info().currsize

    def _mint(self, value: str, path: str) -> str:
        if value.startswith(TOKEN_PREFIX) and self._decrypt(value, path=path) is not None:
            return value  # already a token of ours: never double-tokenize on replay
        associated = self._associated.get(path)
        if associated is None:
            associated = self._associated[path] = [path.encode("utf-8")]
        return TOKEN_PREFIX + _base64url(self._siv.encrypt(value.encode("utf-8"), associated))

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

    def seal_bytes(self, data: bytes, *, purpose: str) -> str:
        """``data`` encrypted whole (deterministic AES-SIV, ``purpose`` as associated data):
        ``sealed:v1:<base64url>``. Equal data seal alike, so sealed bytes can key a row."""
        sealed = self._siv.encrypt(data, [b"sealed", purpose.encode("utf-8")])
        return SEALED_RECORD_PREFIX + _base64url(sealed)

    def open_bytes(self, text: str, *, purpose: str) -> bytes:
        """The bytes :meth:`seal_bytes` sealed for ``purpose``; :class:`SealedRecordError` otherwise."""
        body = text[len(SEALED_RECORD_PREFIX) :] if text.startswith(SEALED_RECORD_PREFIX) else None
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)) if body is not None else b""
            return self._siv.decrypt(sealed, [b"sealed", purpose.encode("utf-8")])
        except (binascii.Error, ValueError, InvalidTag):
            raise SealedRecordError(
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


# What base64.urlsafe_b64encode does (b2a_base64, then "+/" -> "-_"), without its two calls' overhead.
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _base64url(data: bytes) -> str:
    """Unpadded base64url text of ``data``: ``base64.urlsafe_b64encode(data).rstrip(b"=")``."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


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


# --------------------------------------------------------------------------- sealed precise values


def json_text(*, ensure_ascii: bool = True, default: Callable[[Any], Any] | None = None) -> Callable[[Any], str]:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=..., default=...)``
    as a function built once: the same C encoder ``json.dumps`` builds on every call, with the
    same options, so the same text, for a fraction of the cost. For parsed JSON (never circular:
    the circular-reference check is the one thing left out) and what ``default`` makes of odd types.
    """
    encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii, default=default)
    make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if make_encoder is None:  # a Python without the C accelerator
        return encoder.encode
    strings = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    chunks = make_encoder(None, encoder.default, strings, None, ":", ",", True, False, True)
    return lambda value: "".join(chunks(value, 0))


_stdlib_canonical_json = json_text()


def canonical_json(value: Any) -> str:
    """The text a sealed value is: ``json.dumps(value, sort_keys=True, separators=(",", ":"))``
    (sorted keys, no spaces, ASCII). orjson writes it when it provably writes that same text
    (:func:`orjson_writes_alike`: a GeoPoint, a postcode, the map of sealed tokens), at a fifth
    of the cost; the stdlib encoder writes anything else."""
    if orjson_writes_alike(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("ascii")
    return _stdlib_canonical_json(value)


# Below this magnitude orjson writes a float in positional notation (0.00001) where Python's repr,
# which json uses, writes an exponent (1e-05); from it up to the largest float they write alike.
_ORJSON_LEAST_FLOAT = 1e-4
_ORJSON_INTEGERS = range(-(2**63), 2**63)  # orjson refuses integers beyond 64 bits
_ORJSON_DEPTH = 32  # orjson refuses nesting beyond 254 levels; sealed values are one or two deep


def orjson_writes_alike(value: Any, depth: int = 0) -> bool:
    """Whether ``orjson.dumps(value, option=OPT_SORT_KEYS)`` is exactly :func:`canonical_json`'s text.

    True only for JSON made of: strings (and keys) of printable ASCII (json escapes anything else
    as ``\\uXXXX``, orjson writes UTF-8 and DEL as they are), finite floats of magnitude 0 or at
    least 1e-4, 64-bit integers, booleans, null, and lists and dicts of them (exact types, not
    subclasses). A property test (tests/logistics/test_pii.py) holds both encoders to it.
    """
    kind = type(value)
    if kind is dict:
        if depth >= _ORJSON_DEPTH:
            return False
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() and key.isprintable()):
                return False
            # a dict's floats and strings checked here: a call per item would cost more than the encoding
            item_kind = type(item)
            if item_kind is float:
                if not (_ORJSON_LEAST_FLOAT <= abs(item) < math.inf or item == 0.0):
                    return False
            elif item_kind is str:
                if not (item.isascii() and item.isprintable()):
                    return False
            elif not orjson_writes_alike(item, depth + 1):
                return False
        return True
    if kind is str:
        return value.isascii() and value.isprintable()
    if kind is float:
        return _orjson_writes_float_alike(value)
    if kind is int:
        return value in _ORJSON_INTEGERS
    if kind is list:
        return depth < _ORJSON_DEPTH and all(orjson_writes_alike(item, depth + 1) for item in value)
    return value is None or kind is bool


def _orjson_writes_float_alike(value: float) -> bool:
    """The float rule of :func:`orjson_writes_alike` (finite, 0 or of magnitude 1e-4 and up)."""
    return _ORJSON_LEAST_FLOAT <= abs(value) < math.inf or value == 0.0


def canonical_geopoint(value: Any) -> str:
    """:func:`canonical_json` of a GeoPoint, without the general check where it is two floats.

    A dict of exactly ``lat`` and ``lon``, both floats that orjson writes as json does (the
    float rule of :func:`orjson_writes_alike`), holds nothing else that check looks at: its
    keys are printable ASCII. Anything else takes canonical_json's own way.
    """
    if type(value) is dict and len(value) == 2:
        lat, lon = value.get("lat"), value.get("lon")
        if (
            type(lat) is float
            and type(lon) is float
            and _orjson_writes_float_alike(lat)
            and _orjson_writes_float_alike(lon)
        ):
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("ascii")
    return canonical_json(value)


def seal(value: Any, *, path: str, tokenizer: Tokenizer, remember: bool = True) -> str:
    """The token of a precise value (its JSON text) for payload field ``path``
    (``remember``: as :meth:`Tokenizer.tokenize` has it)."""
    return tokenizer.tokenize(canonical_json(value), path=path, remember=remember)


def unseal(token: str, *, path: str, tokenizer: Tokenizer) -> Any:
    """The precise value :func:`seal` sealed for ``path``; :class:`DetokenizeError` otherwise."""
    try:
        return json.loads(tokenizer.detokenize(token, path=path))
    except json.JSONDecodeError:
        raise DetokenizeError(f"the token for {path!r} does not hold a sealed value") from None


def sealed_tokens(text: object) -> dict[str, str]:
    """``{payload path: token}`` from a ``pii_sealed`` value; anything else reads as none."""
    if not isinstance(text, str | bytes) or not text:
        return {}
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {k: v for k, v in parsed.items() if isinstance(k, str) and looks_like_token(v)}
