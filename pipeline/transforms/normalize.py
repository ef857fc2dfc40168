"""normalize: raw bytes from any source -> the common envelope (or a DeadLetter).

Producers differ: legacy ones send camelCase keys, epoch times, or "v1" versions.
Those differences are declared in :data:`~pipeline.sources.fields.FIELD_ALIASES`, not branched on.

Two paths, one result. :func:`normalize` judges any record and words every reject.
:func:`normalize_fast` builds the same envelope for a record normalize accepts: msgspec decodes the
record's envelope fields, typed, in one C call (no dict of the record, no lookup per alias), and
what a version claim means is worked out once per claim, instead of per event; it returns None for
anything else, and the caller asks :func:`normalize` (see pipeline.transforms.check).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
import orjson

from pipeline.dead_letter import (
    INVALID_ENVELOPE,
    MALFORMED_JSON,
    MISSING_ENVELOPE_FIELD,
    DeadLetter,
    contract_version_held_to,
    record_text,
)
from pipeline.sources.base import SourceRecord
from pipeline.sources.fields import FIELD_ALIASES, first_present

Envelope = dict[str, Any]

_REQUIRED = ("event_type", "event_version", "event_time", "payload")
# Derived ids are name-based UUIDs: a producer retry of the same event gets the same id.
_EVENT_ID_NAMESPACE = uuid.UUID("6f1c1c4e-3d0a-4c55-9a54-6d3b0f1f8a10")
_TIME_EXPECTED = 'an ISO-8601 time such as "2024-01-15T10:30:00Z", or epoch seconds, milliseconds or microseconds'


def normalize(
    raw: bytes | str,
    *,
    source_system: str,
    ingest_time: dt.datetime,
    attributes: dict[str, str] | None = None,
    publish_time: dt.datetime | None = None,
) -> Envelope | DeadLetter:
    """One raw record -> envelope. Message attributes fill envelope fields the body lacks,
    and the broker's publish time stands in for a missing event time.

    A reject carries the record exactly as received (body, attributes, publish time) and every
    envelope field that could be read from it, as claimed.
    """

    def reject(code: str, reason: str, found: dict[str, Any] | None = None) -> DeadLetter:
        body = as_received(raw, source_system=source_system)
        received = SourceRecord(body.value, source_system, dict(attributes or {}), publish_time)
        claimed = {"source_system": source_system} if found is None else _claimed(found, default_source=source_system)
        return DeadLetter("normalize", code, reason, record_text(raw), received=received, **claimed)

    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return reject(MALFORMED_JSON, json_error(raw, exc), _readable_fields(raw))
    if not isinstance(record, dict):
        return reject(INVALID_ENVELOPE, f"expected a JSON object (the envelope), got {describe_value(record)}")

    found = _envelope_fields(record)
    for key, value in (attributes or {}).items():
        if key in found and found[key] is None:
            found[key] = value
    if found["event_time"] is None and publish_time is not None:
        found["event_time"] = publish_time.isoformat()
    missing = [key for key in _REQUIRED if found[key] is None]
    if missing:
        looked = "; ".join(f"{key} (looked for {', '.join(FIELD_ALIASES[key])})" for key in missing)
        return reject(MISSING_ENVELOPE_FIELD, f"envelope field(s) missing: {looked}", found)
    try:
        version = parse_version(found["event_version"])
    except ValueError as exc:
        return reject(INVALID_ENVELOPE, f"{_field_name(record, 'event_version')}: {exc}", found)
    try:
        event_time = parse_time(found["event_time"])
    except ValueError as exc:
        return reject(INVALID_ENVELOPE, f"{_field_name(record, 'event_time')}: {exc}", found)
    try:
        ingested = parse_time(found["ingest_time"]) if found["ingest_time"] is not None else ingest_time
    except ValueError as exc:
        return reject(INVALID_ENVELOPE, f"{_field_name(record, 'ingest_time')}: {exc}", found)
    payload = found["payload"]
    if not isinstance(payload, dict):
        return reject(INVALID_ENVELOPE, f"{_field_name(record, 'payload')}: {_not_an_object(payload)}", found)
    payload_text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    event_type = str(found["event_type"])
    event_id = found["event_id"] or str(
        uuid.uuid5(_EVENT_ID_NAMESPACE, f"{event_type}|{version}|{event_time.isoformat()}|{payload_text}")
    )
    return {
        "event_id": str(event_id),
        "event_type": event_type,
        "event_version": version,
        "event_time": event_time,
        "ingest_time": ingested,
        "source_system": _str_or_none(found["source_system"]) or source_system,
        "trace_id": _str_or_none(found["trace_id"]),
        "payload": payload_text,
        "pii_sealed": found["pii_sealed"] if isinstance(found["pii_sealed"], str) else None,
    }


def normalize_fast(
    raw: bytes | str,
    *,
    source_system: str,
    ingest_time: dt.datetime,
    attributes: dict[str, str] | None = None,
    publish_time: dt.datetime | None = None,
) -> tuple[Envelope, dict[str, Any]] | None:
    """:func:`normalize`'s envelope for a record it accepts, with the payload object its payload
    text was written from (a check of the payload then needs no second parse of that text); None
    when normalize must judge the record (it may reject it, or its shape is one this path leaves
    to normalize)."""
    try:
        fields: Sequence[Any] | None = _SENT_UNDER_OWN_NAMES(_DECODE_OWN_NAMES(raw))
    except _UNDECODED:
        fields = _sent_otherwise(raw)
    if fields is None:
        return None
    if attributes:
        fields = [
            attributes[key] if value is None and key in attributes else value
            for key, value in zip(_ENVELOPE_KEYS, fields, strict=True)
        ]
    event_id, event_type, claimed_version, event_time, ingested, source, trace_id, payload, sealed = fields
    if event_time is None and publish_time is not None:
        event_time = publish_time.isoformat()
    if event_type is None or type(payload) is not dict or event_time is None:  # an attribute may be any text
        return None
    if type(claimed_version) is int or (type(claimed_version) is str and len(claimed_version) <= _CLAIM_CHARS_CACHED):
        version = _VERSIONS.get(claimed_version) or _new_version(claimed_version)
    else:
        return None
    if version is None:
        return None
    try:
        moment = utc_time(event_time)
        ingested = ingest_time if ingested is None else utc_time(ingested)
        payload_text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS).decode()
    except (ValueError, orjson.JSONEncodeError):  # a time normalize rejects; an int orjson reads as a float
        return None
    if not event_id:
        event_id = uuid.uuid5(_EVENT_ID_NAMESPACE, f"{event_type}|{version}|{moment.isoformat()}|{payload_text}")
    envelope = {
        # str(value) is value for a str: the check of type only skips a call on the common case
        "event_id": event_id if type(event_id) is str else str(event_id),
        "event_type": event_type,
        "event_version": version,
        "event_time": moment,
        "ingest_time": ingested,
        # the types the decode let through make these normalize's values as they are (_SENT_AS)
        "source_system": source or source_system,
        "trace_id": trace_id,
        "payload": payload_text,
        "pii_sealed": sealed,
    }
    return envelope, payload


# The envelope fields a record sends, decoded by msgspec in one C call with the types normalize_fast
# takes them in: a value of another type fails the decode and leaves the record to normalize (a key
# no alias names takes a decode of its own: _sent_beside_other_keys). Each type is one normalize
# reads as normalize_fast does (a str as it is, None as absent); and msgspec reads any JSON these
# types let through into the values orjson reads it into (tests/pipeline/transforms/
# test_normalize.py compares the two parsers), but for an integer beyond 64 bits, a float to
# orjson: outside the envelope's int range here, and in a payload one orjson.dumps refuses, so
# normalize_fast leaves its record to normalize.
_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
_SENT_AS: dict[str, Any] = {
    "event_id": str | _Int64 | None,
    "event_type": str | None,
    "event_version": _Int64 | str | None,
    "event_time": str | _Int64 | float | None,
    "ingest_time": str | _Int64 | float | None,
    "source_system": str | None,
    "trace_id": str | None,
    "payload": dict[str, Any] | None,
    "pii_sealed": str | None,
}


def _sent_struct(name: str, keys: Sequence[str], *, among_others: bool = False) -> type[msgspec.Struct]:
    """A Struct of these keys, each of its envelope field's type; no other key unless
    ``among_others`` (then skipped unread). gc=False: it holds parsed JSON, never a cycle."""
    field_of = {alias: field for field, aliases in FIELD_ALIASES.items() for alias in aliases}
    fields = [(key, _SENT_AS[field_of[key]], None) for key in keys]
    return msgspec.defstruct(name, fields, forbid_unknown_fields=not among_others, gc=False)


# What a decode raises for a record it refuses: msgspec's errors (ValueErrors), and Python's for bytes
# that are not UTF-8 (or text that is not: a lone surrogate) and for nesting deeper than it reads.
_UNDECODED = (ValueError, RecursionError)

# Most producers send each field under its own name: one decode, and the fields in order as they are.
# Any other mix of aliases takes the Struct of every alias, read as normalize reads a record.
_OWN_NAMES = _sent_struct("SentUnderOwnNames", list(FIELD_ALIASES))
_DECODE_OWN_NAMES = msgspec.json.Decoder(_OWN_NAMES).decode
_SENT_UNDER_OWN_NAMES = msgspec.structs.astuple
_ALIASES = [alias for aliases in FIELD_ALIASES.values() for alias in aliases]
_ALL_ALIASES = msgspec.json.Decoder(_sent_struct("SentUnderAliases", _ALIASES))
# A record that also sends keys no alias names, as orjson parsed it: its own names, or every alias.
_OWN_NAMES_AMONG_OTHERS = _sent_struct("OwnNamesAmongOthers", list(FIELD_ALIASES), among_others=True)
_ALL_ALIASES_AMONG_OTHERS = _sent_struct("AliasesAmongOthers", _ALIASES, among_others=True)
_OTHER_ALIASES = frozenset(_ALIASES) - frozenset(FIELD_ALIASES)


def _sent_under_aliases(raw: bytes | str) -> Sequence[Any]:
    """The envelope fields (in :data:`FIELD_ALIASES` order) of a record sending them under any
    aliases: each the first present, as :func:`normalize` reads it."""
    return _first_present_fields(_ALL_ALIASES.decode(raw))


def _sent_beside_other_keys(raw: bytes | str) -> Sequence[Any]:
    """:func:`_sent_under_aliases` of a record that also sends keys no alias names (a producer's
    own, which normalize ignores). orjson parses it, as normalize does (a msgspec decode would skip
    such a key's value without checking its bytes or its numbers' range); msgspec then checks the
    fields' types on the parsed values, as it does on the decoded ones."""
    record = orjson.loads(raw)
    if type(record) is not dict:
        raise ValueError("not an object")
    if _OTHER_ALIASES.isdisjoint(record):  # each field under its own name, or absent
        return _SENT_UNDER_OWN_NAMES(msgspec.convert(record, _OWN_NAMES_AMONG_OTHERS))
    return _first_present_fields(msgspec.convert(record, _ALL_ALIASES_AMONG_OTHERS))


def _first_present_fields(sent: msgspec.Struct) -> list[Any]:
    return list(_envelope_fields(msgspec.structs.asdict(sent)).values())


def _sent_otherwise(raw: bytes | str) -> Sequence[Any] | None:
    """The envelope fields of a record not sent under the fields' own names alone (None: one
    normalize_fast leaves to normalize): under other aliases, then beside keys no alias names."""
    for read in (_sent_under_aliases, _sent_beside_other_keys):
        try:
            return read(raw)
        except _UNDECODED:
            continue
    return None


# What the cache below holds is bounded in count and, through this, in size: a longer version claim
# is normalize's to judge.
_CLAIM_CHARS_CACHED = 16


# Version claims are few: a feed of ever-new ones only starts the cache afresh.
_CACHED = 1024
_VERSIONS: dict[str | int, int | None] = {}


def _new_version(claimed: str | int) -> int | None:
    """A version claim as a number, or None where :func:`parse_version` refuses it (once per claim;
    a refused one, None in the cache, is judged again: its record is normalize's to reject anyway)."""
    try:
        version: int | None = parse_version(claimed)
    except ValueError:
        version = None
    if len(_VERSIONS) >= _CACHED:
        _VERSIONS.clear()
    _VERSIONS[claimed] = version
    return version


def parse_version(value: Any) -> int:
    """``2``, ``"2"`` and ``"v2"`` all mean version 2 (up to 9 digits: the envelope's version is an int)."""
    text = str(value).strip().lower().removeprefix("v")
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1 or len(text) > 9:
        raise ValueError(f'expected a version number of 1 or more, such as 2 or "v2", got {describe_value(value)}')
    return int(text)


def utc_time(value: Any) -> dt.datetime:
    """:func:`parse_time`, quicker for the time most producers send: ISO-8601 text with no "Z" but
    (maybe) its last character. parse_time parses that text with the Z written "+00:00"; from
    Python 3.11 on fromisoformat reads the Z itself as that offset, so where it returns a UTC time
    from the text as it is, that time is parse_time's (the Z-less text parse_time parses as it is).
    Anything else is parse_time's to parse or word the reject of (tests/pipeline/transforms/test_normalize.py
    compares the two over odd texts: Z as the separator, twice, lower case, dates alone)."""
    if type(value) is str and "Z" not in value[:-1]:
        try:
            parsed = _FROM_ISO_FORMAT(value)
        except ValueError:
            return parse_time(value)  # which words the reject
        if parsed.tzinfo is dt.UTC:
            return parsed
    return parse_time(value)


_FROM_ISO_FORMAT = dt.datetime.fromisoformat


def parse_time(value: Any) -> dt.datetime:
    """ISO-8601 (``Z`` or offset; naive means UTC) or epoch seconds/milliseconds/microseconds."""
    if isinstance(value, str):  # before numbers: most times come as ISO-8601 text
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expected {_TIME_EXPECTED}, got {describe_value(value)}") from None
        zone = parsed.tzinfo
        if zone is dt.UTC:  # "Z" or "+00:00": already what astimezone(UTC) would return (itself)
            return parsed
        return parsed.replace(tzinfo=dt.UTC) if zone is None else parsed.astimezone(dt.UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if abs(seconds) >= 1e14:  # microseconds
            seconds /= 1e6
        elif abs(seconds) >= 1e11:  # milliseconds (1e11 s would be the year 5138)
            seconds /= 1e3
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):  # out of range, inf
            raise ValueError(
                f"expected {_TIME_EXPECTED}, got {describe_value(value)}, out of range in each of those units"
            ) from None
    raise ValueError(f"expected {_TIME_EXPECTED}, got {describe_value(value)}")


def describe_value(value: Any) -> str:
    """What a value is, for a reason text, without quoting it (reasons are stored and shown, and
    the value may be personal data): its JSON type, a number's digit count, a string's shape
    (digits as ``d``, letters as ``x`` but ``T`` and ``Z``, which times are made of), e.g.
    ``a string shaped "dd/dd/dddd dd:dd"``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        digits = len(str(abs(value)))
        return (
            f"the number {value}" if digits <= 4 else f"{_a(digits)} {digits}-digit number"
        )  # short ones identify nobody
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return "a non-finite number"
        return f"a decimal number with {len(str(int(abs(value))))} digit(s) before the point"
    if isinstance(value, str):
        shape = "".join(_shape_char(ch) for ch in value[:_SHAPE_CHARS])
        more = f"... ({len(value)} characters)" if len(value) > _SHAPE_CHARS else ""
        return f'a string shaped "{shape}{more}"' if value else "an empty string"
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    return f"a {type(value).__name__}"


_SHAPE_CHARS = 40


def _a(number: int) -> str:
    """The article before a number said aloud: an 8, an 11, an 18, a 9."""
    return "an" if str(number).startswith("8") or number in (11, 18) else "a"


def _shape_char(ch: str) -> str:
    if ch.isdigit():
        return "d"
    if ch.isalpha():
        return ch if ch in "TZ" else "x"
    return ch if ch.isprintable() else "?"


def json_error(raw: bytes | str, exc: orjson.JSONDecodeError) -> str:
    """Why ``raw`` is not JSON, and where: line and column in characters, and the byte offset."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return f"not valid UTF-8 at byte offset {bad.start} (byte 0x{raw[bad.start]:02x}): a record is UTF-8 JSON"
    else:
        text = raw
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as bad:
            return f"not valid UTF-8 at character {bad.start + 1} (a lone surrogate): a record is UTF-8 JSON"
    pos = min(exc.pos, len(text))  # a character index into the decoded text
    line_start = text.rfind("\n", 0, pos) + 1
    line, column = text.count("\n", 0, pos) + 1, pos - line_start + 1
    where = f"column {column}" if line == 1 else f"line {line}, column {column}"
    return f"not valid JSON at {where} (byte offset {len(text[:pos].encode('utf-8'))}): {exc.msg}"


def _envelope_fields(record: dict[str, Any]) -> dict[str, Any]:
    """Envelope key -> the first non-null alias value."""
    return {key: first_present(record, aliases) for key, aliases in _ALIAS_ITEMS}


_ALIAS_ITEMS = tuple(FIELD_ALIASES.items())
_ENVELOPE_KEYS = tuple(FIELD_ALIASES)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _field_name(record: dict[str, Any], key: str) -> str:
    """An envelope field as a reason names it: ``event_time``, ``event_time (sent as "timestamp")``,
    or ``event_time (from the message attributes)``."""
    sent_as = next((name for name in FIELD_ALIASES[key] if record.get(name) is not None), None)
    if sent_as is None:
        return f"{key} (from the message attributes)"
    return key if sent_as == key else f'{key} (sent as "{sent_as}")'


def _not_an_object(payload: Any) -> str:
    if isinstance(payload, str):
        try:
            inner = orjson.loads(payload)
        except orjson.JSONDecodeError:
            inner = None
        if isinstance(inner, dict):
            return "expected a JSON object, got a string holding one (send the object itself, not its JSON text)"
    return f"expected a JSON object, got {describe_value(payload)}"


def _readable_fields(raw: bytes | str) -> dict[str, Any] | None:
    """The envelope fields of a record that is JSON but for bytes that are not UTF-8, read from its
    text with those bytes replaced (U+FFFD): still what the producer claimed. None for broken JSON."""
    try:
        record = orjson.loads(record_text(raw).encode("utf-8", errors="replace"))
    except orjson.JSONDecodeError:
        return None
    return _envelope_fields(record) if isinstance(record, dict) else None


def _claimed_version(value: Any) -> int | None:
    """The version a record claims, as a number, even one no contract has (0 stays 0)."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip().lower().removeprefix("v")
    return int(text) if text.isdigit() and len(text) <= 18 else None  # fits an INT64 column


def _claimed(found: dict[str, Any], *, default_source: str) -> dict[str, Any]:
    """The DLQ row's envelope columns from whatever envelope fields a rejected record carried."""
    event_type = _str_or_none(found["event_type"])
    version = _claimed_version(found["event_version"])
    return {
        "source_system": _str_or_none(found["source_system"]) or default_source,
        "event_id": _str_or_none(found["event_id"]),
        "event_type": event_type,
        "event_version": version,
        "contract_version": contract_version_held_to(event_type, version),
        "trace_id": _str_or_none(found["trace_id"]),
    }


def envelope_json(envelope: Envelope) -> str:
    """The envelope as one JSON line (times ISO-8601 UTC, payload as an object)."""
    return orjson.dumps({**envelope, "payload": orjson.loads(envelope["payload"])}, option=orjson.OPT_UTC_Z).decode()


def as_received(record: bytes | str | SourceRecord, *, source_system: str) -> SourceRecord:
    """What a source handed over, as a SourceRecord (a raw line: its bytes, no attributes)."""
    if isinstance(record, SourceRecord):
        return record
    value = record if isinstance(record, bytes) else record.encode("utf-8", errors="surrogatepass")
    return SourceRecord(value=value, source_system=source_system)


def normalize_record(
    record: bytes | str | SourceRecord, *, source_system: str, ingest_time: dt.datetime
) -> Envelope | DeadLetter:
    """:func:`normalize` for what a source yields: a raw line, or a SourceRecord with its attributes."""
    if isinstance(record, SourceRecord):
        return normalize(
            record.value,
            source_system=record.source_system,
            # The broker's publish time is when the event entered the platform: ingest time
            # (so ingest-to-silver latency counts the time spent waiting in the broker too).
            ingest_time=record.publish_time or ingest_time,
            attributes=record.attributes,
            publish_time=record.publish_time,
        )
    return normalize(record, source_system=source_system, ingest_time=ingest_time)
