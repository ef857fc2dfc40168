"""The per-event functions as they were before their per-batch rewrites: the benchmark's "before".

Only ``bench_pipeline``'s "loop, precise check (before)" contender and the tests that prove the
new functions write exactly what these wrote use them; nothing under ``pipeline/`` or
``logistics/`` imports this module. Each is a verbatim copy (names and imports aside) of the
function it stands for, wired to the other copies here, so the "before" figure keeps today's cost.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import functools
import json
import math
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import fastavro
import orjson
from apache_beam.io.filesystems import FileSystems

from contracts.generated.catalog import FAMILIES, SUBJECTS
from contracts.spec import SEALED_COLUMN, GeneralizePattern, MaskPattern, PiiPattern, PiiRule, SubjectSpec
from logistics import pii as logistics_pii
from logistics.pii import TOKEN_PREFIX, sealed_tokens
from logistics.warehouse import TableDef, Warehouse, dlq_table, silver_tables
from logistics.warehouse.duckdb_backend import DuckDBWarehouse
from pipeline.dead_letter import DeadLetter, received_line
from pipeline.ledger import Ledger, record
from pipeline.sinks.avro import DEFLATE_LEVEL, PARSED_ENVELOPE
from pipeline.sinks.silver import _SILVER, WINDOWS, LoadResult, staged_windows
from pipeline.sources.fields import FIELD_ALIASES, first_present
from pipeline.transforms.enrich import DimensionSnapshot
from pipeline.transforms.normalize import Envelope, as_received
from pipeline.transforms.pii import (
    _PAYLOAD_KEYS,
    _POSTCODE_KEPT_CHARACTERS,
    ALL_RULES,
    DLQ_IDENTITY,
    DLQ_ORIGINAL,
    REDACTED,
    DetokenizeError,
    _mask_emails,
    _mask_pii_keys,
    _payload_object,
    mask_email,
    mask_generic,
    mask_phone,
    rules_for,
    scrub_text,
)
from pipeline.transforms.stage import StagedEvent
from pipeline.windows.event_counts import RECOUNT, _recount_sql, count_row, window_start

# --------------------------------------------------------------------------- logistics/pii.py


class Tokenizer(logistics_pii.Tokenizer):
    """The tokenizer without its token cache: every call decrypts (a token of ours?) and encrypts."""

    __slots__ = ()

    def tokenize(self, value: str, *, path: str, remember: bool = True) -> str:
        """``value`` -> ``tok:v1:<base64url>``; a token this key minted for ``path`` is returned as is.
        (``remember``: today's signature; without a cache there is nothing to remember.)"""
        if self._decrypt(value, path=path) is not None:
            return value  # already a token of ours: never double-tokenize on replay
        sealed = self._siv.encrypt(value.encode("utf-8"), [path.encode("utf-8")])
        return TOKEN_PREFIX + base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")


def seal(value: Any, *, path: str, tokenizer: logistics_pii.Tokenizer) -> str:
    """The token of a precise value (its JSON text) for payload field ``path``."""
    return tokenizer.tokenize(json.dumps(value, sort_keys=True, separators=(",", ":")), path=path)


def unseal(token: str, *, path: str, tokenizer: logistics_pii.Tokenizer) -> Any:
    """The precise value :func:`seal` sealed for ``path``; :class:`DetokenizeError` otherwise."""
    try:
        return json.loads(tokenizer.detokenize(token, path=path))
    except json.JSONDecodeError:
        raise DetokenizeError(f"the token for {path!r} does not hold a sealed value") from None


# --------------------------------------------------------------------------- pipeline/transforms/pii.py


def _keep_first(text: str) -> str:
    return text[:1] + "*" * (len(text) - 1)


def mask_name(value: str) -> str:
    """Initials only: ``Ada Lovelace`` -> ``A** L*******`` (whitespace kept)."""
    return re.sub(r"\S+", lambda m: _keep_first(m.group()), value)


MASKS: dict[MaskPattern, Callable[[str], str]] = {
    "email": mask_email,
    "phone": mask_phone,
    "name": mask_name,
    "generic": mask_generic,
}


def _mask(pattern: PiiPattern) -> Callable[[str], str]:
    return MASKS[cast(MaskPattern, pattern)]  # the registry pairs mask with these only


def generalize_coordinates(value: Any) -> Any:
    """A GeoPoint ``{"lat": 52.52437, "lon": 13.41053}`` -> ``{"lat": 52.52, "lon": 13.41}``."""
    if not isinstance(value, dict):
        return REDACTED
    return {axis: _coarse_degrees(value[axis]) for axis in ("lat", "lon") if axis in value}


def _coarse_degrees(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return REDACTED
    try:
        degrees = float(value)
    except OverflowError:  # an integer beyond any float
        return REDACTED
    return round(degrees, 2) if math.isfinite(degrees) else REDACTED


def generalize_postcode(value: Any) -> str:
    """``SW1A 1AA`` -> ``SW1A ***``; ``60601`` -> ``606**``; ``60601-1234`` -> ``606**-****``."""
    text = _as_text(value).strip()
    outward, space, _ = text.partition(" ")
    kept = len(outward) if space else _POSTCODE_KEPT_CHARACTERS
    return "".join(ch if i < kept or not ch.isalnum() else "*" for i, ch in enumerate(text))


GENERALIZERS: dict[GeneralizePattern, Callable[[Any], Any]] = {
    "coordinates": generalize_coordinates,
    "postcode": generalize_postcode,
}


def _generalizer(pattern: PiiPattern) -> Callable[[Any], Any]:
    return GENERALIZERS[cast(GeneralizePattern, pattern)]  # the registry pairs generalize with these only


def _value_at(payload: Any, parts: list[str]) -> Any:
    for part in parts:
        payload = payload.get(part) if isinstance(payload, dict) else None
    return payload


def sealed_precise_values(
    payload: dict[str, Any], rules: tuple[PiiRule, ...], *, existing: object, tokenizer: logistics_pii.Tokenizer
) -> str | None:
    """``pii_sealed`` for a payload *before* protection: each generalize rule's value, sealed."""
    previous = sealed_tokens(existing)
    sealed: dict[str, str] = {}
    for rule in rules:
        if rule.policy != "generalize":
            continue
        value = _value_at(payload, rule.path.split("."))
        if value is None:
            continue
        generalize = _generalizer(rule.pattern)
        coarse = generalize(value)
        token = previous.get(rule.path)
        if token is not None:
            try:
                if generalize(unseal(token, path=rule.path, tokenizer=tokenizer)) == coarse:
                    sealed[rule.path] = token
                    continue
            except DetokenizeError:
                pass
        sealed[rule.path] = seal(value, path=rule.path, tokenizer=tokenizer)
    return json.dumps(sealed, sort_keys=True, separators=(",", ":")) if sealed else None


def _as_text(value: Any) -> str:
    """Rules address text fields; a number or object found there is protected as its JSON text."""
    if isinstance(value, str):
        return value
    # stdlib json, not orjson: it takes any integer size and (default=str) any odd type
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def apply_rule(value: Any, rule: PiiRule, *, tokenizer: logistics_pii.Tokenizer) -> Any:
    """One present, non-null value under one rule."""
    if rule.policy == "redact":
        return REDACTED
    if rule.policy == "generalize":
        return _generalizer(rule.pattern)(value)
    text = _as_text(value)
    if rule.policy == "mask":
        return _mask(rule.pattern)(text)
    return tokenizer.tokenize(text, path=rule.path)


def _protect_at(node: Any, parts: tuple[str, ...], rule: PiiRule, tokenizer: logistics_pii.Tokenizer) -> Any:
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


def protect(
    payload: dict[str, Any], rules: tuple[PiiRule, ...], *, tokenizer: logistics_pii.Tokenizer
) -> dict[str, Any]:
    """A new payload with every rule applied; the input is never mutated."""
    out: dict[str, Any] = dict(payload)
    for rule in rules:
        out = _protect_at(out, tuple(rule.path.split(".")), rule, tokenizer)
    return out


def protect_envelope(envelope: dict[str, Any], *, tokenizer: logistics_pii.Tokenizer) -> dict[str, Any]:
    """An envelope (``payload`` as JSON text, see normalize) with its subject's rules applied,
    and ``pii_sealed`` holding the precise values its generalize rules coarsened (or None)."""
    rules = rules_for(envelope["event_type"])
    if not rules:
        # Most event types carry no PII: skip the JSON round trip. Nothing of theirs is sealed,
        # so a pii_sealed a producer sent is not kept.
        return {**envelope, SEALED_COLUMN: None} if envelope.get(SEALED_COLUMN) is not None else envelope
    payload = orjson.loads(envelope["payload"])
    if not isinstance(payload, dict):
        return envelope
    sealed = sealed_precise_values(payload, rules, existing=envelope.get(SEALED_COLUMN), tokenizer=tokenizer)
    protected = protect(payload, rules, tokenizer=tokenizer)
    return {**envelope, "payload": orjson.dumps(protected).decode("utf-8"), SEALED_COLUMN: sealed}


def protect_raw(raw: str, *, tokenizer: logistics_pii.Tokenizer) -> str:
    """PII-safe text of a raw record (a DLQ row's ``raw``, for people to read), parseable or not."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return scrub_text(raw)
    protected = _protect_record(record, tokenizer)
    return raw if protected == record else orjson.dumps(protected).decode("utf-8")


def _protect_record(record: Any, tokenizer: logistics_pii.Tokenizer) -> Any:
    if not isinstance(record, dict):
        return _mask_emails(_mask_pii_keys(record))
    event_type = next((record[k] for k in FIELD_ALIASES["event_type"] if isinstance(record.get(k), str)), None)
    spec = SUBJECTS.get(event_type) if event_type is not None else None
    sealed = None
    for key in _PAYLOAD_KEYS & record.keys():
        payload = _payload_object(record[key])
        if spec and isinstance(payload, dict):
            existing = sealed or record.get(SEALED_COLUMN)
            sealed = sealed_precise_values(payload, spec.pii, existing=existing, tokenizer=tokenizer) or sealed
    if sealed:
        record = {**record, SEALED_COLUMN: sealed}  # generalized values keep their precise value, sealed
    envelope = _mask_emails(_mask_pii_keys({k: v for k, v in record.items() if k not in _PAYLOAD_KEYS}))
    return {k: _protect_payload(v, spec, tokenizer) if k in _PAYLOAD_KEYS else envelope[k] for k, v in record.items()}


def _protect_payload(value: Any, spec: SubjectSpec | None, tokenizer: logistics_pii.Tokenizer) -> Any:
    payload = _payload_object(value)
    if isinstance(value, str) and payload is None and value.strip() != "null":
        return scrub_text(value)  # text that is not JSON
    if isinstance(payload, dict):
        payload = protect(payload, spec.pii if spec else ALL_RULES, tokenizer=tokenizer)
    payload = _mask_emails(payload if spec else _mask_pii_keys(payload))
    return orjson.dumps(payload).decode("utf-8") if isinstance(value, str) else payload


def protect_dead_letter(dead: DeadLetter, *, tokenizer: logistics_pii.Tokenizer) -> DeadLetter:
    """A DLQ record that holds no clear PII and can still be replayed exactly; idempotent."""
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


# --------------------------------------------------------------------------- pipeline/transforms/stage.py,
# enrich.py, route.py: the silver row, its enrichment and the alert, each parsing the payload text


@functools.cache
def _silver_layout(event_type: str) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]]:
    family = FAMILIES[SUBJECTS[event_type].family]
    return family.silver_table, tuple((column, tuple(family.sources_of(column))) for column in family.key_columns)


def silver_row(envelope: Envelope) -> tuple[str, dict[str, Any]]:
    table, key_sources = _silver_layout(envelope["event_type"])
    payload = orjson.loads(envelope["payload"])
    row = {k: v for k, v in envelope.items() if k != "payload"}
    for column, fields in key_sources:
        value = first_present(payload, fields)
        row[column] = None if value is None else str(value)
    row["payload"] = payload
    return table, row


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def enrich(row: dict[str, Any], dims: DimensionSnapshot) -> dict[str, Any]:
    payload = row.get("payload")
    if isinstance(payload, str | bytes):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError:
            payload = None
    body = payload if isinstance(payload, dict) else {}

    driver_id = _text(row.get("driver_id") or body.get("driver_id"))
    driver = dims.drivers.get(driver_id) if driver_id else None
    facility_id = _text(row.get("facility_id") or body.get("facility_id"))
    if facility_id is None and str(row.get("event_type", "")).startswith("driver."):
        facility_id = _text(body.get("home_facility_id")) or (driver.home_facility_id if driver else None)
    carrier_id = _text(row.get("carrier_id") or body.get("carrier_id")) or (driver.carrier_id if driver else None)

    facility = dims.facilities.get(facility_id) if facility_id else None
    return {
        **row,
        "facility_name": facility.name if facility else None,
        "facility_region": facility.region if facility else None,
        "carrier_name": dims.carriers.get(carrier_id) if carrier_id else None,
    }


def alert_of(envelope: Envelope) -> dict[str, Any]:
    payload = orjson.loads(envelope["payload"])
    return {
        "alert_id": envelope["event_id"],
        "event_type": envelope["event_type"],
        "event_time": envelope["event_time"],
        "shipment_id": payload.get("shipment_id"),
        "facility_id": payload.get("facility_id"),
        "detail": payload.get("exception_code") or payload.get("reason"),
        "trace_id": envelope["trace_id"],
        "raised_at": dt.datetime.now(dt.UTC),
    }


def stage_event(
    envelope: Envelope,
    *,
    tokenizer: logistics_pii.Tokenizer,
    dims: DimensionSnapshot,
    alert_event_types: frozenset[str],
) -> StagedEvent:
    protected = protect_envelope(envelope, tokenizer=tokenizer)
    table, row = silver_row(protected)
    alert = alert_of(protected) if protected["event_type"] in alert_event_types else None
    return StagedEvent(protected=protected, table=table, row=enrich(row, dims), alert=alert)


# --------------------------------------------------------------------------- pipeline/sinks/avro.py


def write_avro(fh: IO[bytes], envelopes: Iterable[Envelope]) -> None:
    fastavro.writer(fh, PARSED_ENVELOPE, envelopes, codec="deflate", codec_compression_level=DEFLATE_LEVEL)


@dataclass(frozen=True)
class PerEvent:
    """The per-event functions a plain loop calls: today's (``pipeline``) or these."""

    tokenizer: type[logistics_pii.Tokenizer]
    stage_event: Callable[..., StagedEvent]
    protect_dead_letter: Callable[..., DeadLetter]
    write_avro: Callable[[IO[bytes], Iterable[Envelope]], None]


BEFORE = PerEvent(
    tokenizer=Tokenizer, stage_event=stage_event, protect_dead_letter=protect_dead_letter, write_avro=write_avro
)


# ---------------------------------------------------------------------------------------------
# Staged silver/DLQ rows as JSON lines and their load (replaced by Parquet staging:
# pipeline/sinks/silver.py, logistics/warehouse/columnar.py). Moved verbatim; the DuckDB
# backend's ``load_json_files``, ``merge_rows`` and ``_merge`` methods became functions of the
# warehouse, and ``recount_windows`` (pipeline/windows/event_counts.py) calls this ``merge_rows``.
# ---------------------------------------------------------------------------------------------
def row_line(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE)


class StagedTables:
    """One writer's staged rows: ``<staging>/<table>/<name>.jsonl`` per table, opened on first row,
    and ``<staging>/_windows/<name>.json``: the windows its silver rows fall in."""

    def __init__(self, *, staging_dir: str, name: str, window_seconds: int) -> None:
        self._root, self._name, self._window_seconds = staging_dir.rstrip("/"), name, window_seconds
        self._files: dict[str, IO[bytes]] = {}
        self._windows: set[dt.datetime] = set()

    def add(self, table: str, row: dict[str, Any]) -> None:
        fh = self._files.get(table)
        if fh is None:
            # Deterministic name: a retried writer overwrites its own file.
            fh = self._files[table] = FileSystems.create(f"{self._root}/{table}/{self._name}.jsonl")
        fh.write(row_line(row))
        if table in _SILVER:
            self._windows.add(window_start(row["event_time"], window_seconds=self._window_seconds))

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()
        if self._windows:
            with FileSystems.create(f"{self._root}/{WINDOWS}/{self._name}.json") as fh:
                fh.write(orjson.dumps(sorted(self._windows), option=orjson.OPT_UTC_Z))
            self._windows.clear()


def staged_files(staging_dir: str, table: str) -> list[str]:
    """Non-empty staged files of ``table`` (a local folder or any Beam filesystem URI)."""
    matches = FileSystems.match([f"{staging_dir.rstrip('/')}/{table}/*.jsonl"])[0].metadata_list
    return sorted(m.path for m in matches if m.size_in_bytes > 0)


def load_json_files(warehouse: DuckDBWarehouse, table: TableDef, files: Sequence[Path | str]) -> tuple[int, int]:
    """Insert rows from newline-delimited JSON files, skipping rows whose key is already present
    (insert-if-absent) or replacing older ones (an upsert table, ``table.newer_by``).

    Returns ``(written, skipped)``: skipped rows were already in the table (a replay) or repeated
    a key within the files.
    """
    if not files:
        return 0, 0
    columns = table.duckdb_columns()
    source = f"read_json({[str(f) for f in files]!r}, format='newline_delimited', columns={columns!r})"
    return _merge(warehouse, table, source)


def _merge(self: DuckDBWarehouse, table: TableDef, source: str) -> tuple[int, int]:
    target = f'"{self.physical(table.dataset)}"."{table.name}"'
    key, window, same = table.key, table.key_window, table.same_event_within
    quoted = ", ".join(f'"{c}"' for c in table.columns)
    # Repeats within the load: one row per key (per key and event time for silver, where two
    # copies of an id far apart in event time are two events), the newest for an upsert table.
    per_key = f'"{key}", "{same.time_column}"' if same else f'"{key}"'
    newest = f' ORDER BY "{table.newer_by}" DESC' if table.newer_by else ""
    with self.transaction():
        self._con.execute(f"CREATE OR REPLACE TEMP TABLE _arriving AS SELECT {quoted} FROM {source}")
        self._con.execute(
            "CREATE OR REPLACE TEMP TABLE _incoming AS SELECT * FROM _arriving "
            f"QUALIFY row_number() OVER (PARTITION BY {per_key}{newest}) = 1"
        )
        span = f'min("{window.column}"), max("{window.column}")' if window else "NULL, NULL"
        # Every arriving row counts (repeats within the load are skipped rows too).
        summary = self._con.execute(f"SELECT count(*), {span} FROM _arriving").fetchone()
        staged, first, last = summary or (0, None, None)
        match = f't."{key}" = s."{key}"'
        params: dict[str, Any] | None = None
        if window and first is not None:  # only the row groups that can hold these keys are read
            match += f' AND t."{window.column}" BETWEEN $first AND $last'
            params = dict(zip(("first", "last"), window.around(first, last), strict=True))
        if same:
            at, ttl_hours = f'"{same.time_column}"', same.hours_sql(f's."{same.type_column}"')
            match += f" AND abs(epoch_us(t.{at}) - epoch_us(s.{at})) < {ttl_hours} * 3600000000"
        if table.newer_by:  # an upsert: older rows with these keys make way, then every absent key is inserted
            newer = f'"{table.newer_by}"'
            self._run(f"DELETE FROM {target} t USING _incoming s WHERE {match} AND t.{newer} <= s.{newer}", params)
        inserted = self._count(
            f"INSERT INTO {target} ({quoted}) SELECT {quoted} FROM _incoming s "
            f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})",
            params,
        )
        self._con.execute("DROP TABLE _incoming")
        self._con.execute("DROP TABLE _arriving")
    return inserted, int(staged) - inserted


def merge_rows(warehouse: DuckDBWarehouse, table: TableDef, rows: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """:meth:`load_json_files` for rows in memory (the streaming sinks' batches)."""
    if not rows:
        return 0, 0
    with tempfile.TemporaryDirectory(prefix="logistics-rows-") as scratch:
        path = Path(scratch) / f"{table.name}.jsonl"
        with path.open("wb") as fh:
            for row in rows:
                fh.write(orjson.dumps(row, option=orjson.OPT_UTC_Z | orjson.OPT_APPEND_NEWLINE))
        return load_json_files(warehouse, table, [path])


def recount_windows(warehouse: DuckDBWarehouse, starts: Iterable[dt.datetime], *, window_seconds: int) -> int:
    """Recount the given windows from silver and upsert their rows; returns the rows written."""
    from logistics.warehouse import event_counts_table

    windows = sorted(set(starts))
    if not windows:
        return 0
    rows = warehouse.query(
        _recount_sql(),
        {
            "first": windows[0],
            "last": windows[-1] + dt.timedelta(seconds=window_seconds),
            "window_micros": window_seconds * 1_000_000,
            "windows": windows,
        },
    )
    counted = [
        count_row(
            start=r["window_start"],
            window_seconds=window_seconds,
            event_type=r["event_type"],
            facility_id=r["facility_id"],
            event_count=int(r["event_count"]),
            pane_index=0,
            pane_timing=RECOUNT,
        )
        for r in rows
    ]
    return merge_rows(warehouse, event_counts_table(), counted)[0]


def load_staged(
    warehouse: Warehouse,
    staging_dir: str,
    *,
    window_seconds: int,
    counted: Ledger | None = None,
    input: str | None = None,
) -> LoadResult:
    """Load every staged table (the single writer step), then recount the windows it touched.

    ``counted``: the run's ledger so far (received, duplicates, alerts), completed with what the
    load wrote and recorded (:mod:`pipeline.ledger`) in the same transaction as the rows."""
    assert isinstance(warehouse, DuckDBWarehouse), "the baseline loads DuckDB only"
    warehouse.ensure_tables()
    result = LoadResult()
    with warehouse.transaction():  # a run's silver and DLQ rows, and its ledger, become visible together (DuckDB)
        for table in [*silver_tables().values(), dlq_table()]:
            written, skipped = load_json_files(warehouse, table, staged_files(staging_dir, table.name))
            result.inserted[table.name] = written
            result.already_present[table.name] = skipped
        if counted is not None:
            record(warehouse, result.completed(counted), input=input)
    result.windows_recounted = recount_windows(warehouse, staged_windows(staging_dir), window_seconds=window_seconds)
    return result
