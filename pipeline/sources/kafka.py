"""The Kafka source: a consumer group drained in acknowledged micro-batches (confluent-kafka).

Offsets are committed by hand, synchronously, and only by :meth:`KafkaBatchSource.commit`,
which :func:`pipeline.streaming.drain` calls after bronze, silver and the DLQ hold the
batch. Auto-commit is off, so a crash anywhere before that redelivers the batch to the
group (at-least-once); silver's load skips event_ids it already has, which makes the
result effectively-once.

Values are plain JSON, or Confluent wire format: magic byte ``0``, a 4-byte big-endian
schema id, then an Avro body. Wire-format values are decoded with the generated
envelope schema and handed on as JSON, so normalize sees one format. We run no schema
registry client: every schema id is read as the envelope (``contracts.generated.coders.
ENVELOPE_SCHEMA``), the one schema our producers register for these topics. A producer
writing another schema under another id would decode wrongly or fail; a value that
does not decode is passed through unchanged, so normalize routes it to the DLQ
(``malformed_json``) with its bytes kept, never dropped.

Faults (see ``docs/troubleshooting.md``): every call into the broker is bounded
(``request_timeout_s``), including the synchronous commit and ``close``, which librdkafka
would otherwise block on for as long as a frozen broker stays frozen. A broker that does
not answer is :class:`~logistics.errors.SourceUnavailable`, for the drain to retry with
backoff; librdkafka's own log lines go to this module's logger at DEBUG, so the user sees
one status line instead of a connection error every 100 ms.

Restarts: a killed member stays in the group until its session times out
(``kafka.session_timeout_ms``); until then the broker may give a new member only some
partitions, or none. Joining is waited on for a bounded time and then reported as
unavailable (the drain retries), never abandoned: closing a consumer mid-join can leave
the group stuck on some brokers. :meth:`KafkaBatchSource.drained` checks every partition
of the topics, not only this member's, so a partial assignment never looks like an
empty topic.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import fastavro
import orjson
from confluent_kafka import (
    OFFSET_INVALID,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from contracts.generated.coders import ENVELOPE_SCHEMA
from logistics.errors import SourceError, SourceUnavailable
from logistics.settings import KafkaSettings, setting_problem
from pipeline.sources.base import SourceRecord

log = logging.getLogger(__name__)
_client_log = logging.getLogger(f"{__name__}.librdkafka")

WIRE_MAGIC = 0
_WIRE_HEADER = struct.Struct(">bI")  # magic byte, schema id
_PARSED_ENVELOPE = fastavro.parse_schema(ENVELOPE_SCHEMA)
# After the first message of a batch, keep collecting only what is already fetched.
_BATCH_LINGER_S = 0.2
# How long a "is the broker there at all?" metadata request may take.
_REACHABLE_CHECK_S = 2.0
# How long a batch may wait for assigned partitions' first fetch (see KafkaBatchSource.poll).
_FIRST_FETCH_WAIT_S = 2.0


def encode_wire_format(envelope: Mapping[str, Any], *, schema_id: int = 1) -> bytes:
    """An envelope dict (``payload`` as JSON text) as a Confluent wire-format Avro value."""
    buffer = io.BytesIO()
    buffer.write(_WIRE_HEADER.pack(WIRE_MAGIC, schema_id))
    fastavro.schemaless_writer(buffer, _PARSED_ENVELOPE, dict(envelope))
    return buffer.getvalue()


def is_wire_format(value: bytes) -> bool:
    # JSON text never starts with a NUL byte, so the magic byte alone tells the formats apart.
    return len(value) > _WIRE_HEADER.size and value[0] == WIRE_MAGIC


def decode_value(value: bytes) -> bytes:
    """A Kafka value as JSON bytes for normalize: wire-format Avro is decoded, JSON passes through."""
    if not is_wire_format(value):
        return value
    try:
        record = fastavro.schemaless_reader(io.BytesIO(value[_WIRE_HEADER.size :]), _PARSED_ENVELOPE, None)
    except Exception as exc:  # fastavro raises EOFError, ValueError, UnicodeDecodeError, ... on bad bodies
        log.warning("undecodable Confluent wire-format value (%s); passing it on for the DLQ", exc)
        return value
    assert isinstance(record, dict)
    payload = record.get("payload")
    # The envelope carries the payload as JSON text; normalize wants the object back. Text
    # that is not JSON stays text, and normalize rejects it ("payload must be a JSON object").
    with contextlib.suppress(orjson.JSONDecodeError):
        record["payload"] = orjson.loads(payload) if isinstance(payload, str) else payload
    return orjson.dumps(record, option=orjson.OPT_UTC_Z)


def ensure_topics(
    kafka: KafkaSettings, *, topics: Sequence[str], partitions: int = 4, bootstrap_servers: str | None = None
) -> list[str]:
    """Create those of ``topics`` the cluster lacks (a local broker; in the cloud, Terraform or the
    cluster's owner creates them): the ones created. A consumer subscribed to a topic nobody
    produced to fails with "unknown topic", and producing creates only the topic produced to."""
    from confluent_kafka.admin import AdminClient
    from confluent_kafka.cimpl import NewTopic

    config = security_config(kafka) | ({"bootstrap.servers": bootstrap_servers} if bootstrap_servers else {})
    admin = AdminClient(config)
    where = f"broker at {config['bootstrap.servers']}"
    try:
        existing = set(admin.list_topics(timeout=10).topics)
    except KafkaException as exc:
        raise SourceUnavailable(f"{where} unreachable while listing topics ({exc.args[0].str()})") from exc
    missing = sorted(set(topics) - existing)
    if not missing:
        return []
    futures = admin.create_topics([NewTopic(t, num_partitions=partitions) for t in missing], operation_timeout=10)
    for topic, future in futures.items():
        try:
            future.result(timeout=15)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another process was first
                raise SourceError(f"{where} did not create topic {topic!r}: {exc.args[0].str()}") from exc
    return missing


def security_config(kafka: KafkaSettings) -> dict[str, Any]:
    """librdkafka's connection and security settings, shared by consumers and producers."""
    config: dict[str, Any] = {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": kafka.security_protocol,
    }
    if kafka.security_protocol.startswith("SASL"):
        if not (kafka.sasl_username and kafka.sasl_password):
            missing = "kafka.sasl_username" if not kafka.sasl_username else "kafka.sasl_password"
            raise setting_problem(
                missing,
                f"kafka.security_protocol={kafka.security_protocol} needs kafka.sasl_username and kafka.sasl_password",
            )
        # PLAIN over TLS is what Confluent Cloud and most managed clusters use; override via ``extra``.
        config |= {
            "sasl.mechanism": "PLAIN",
            "sasl.username": kafka.sasl_username,
            "sasl.password": kafka.sasl_password,
        }
    return config


def consumer_config(
    kafka: KafkaSettings,
    *,
    group_id: str,
    bootstrap_servers: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """librdkafka consumer settings: manual commits, earliest offset for a new group, security from settings."""
    config = security_config(kafka) | {
        "group.id": group_id,
        "enable.auto.commit": False,  # commit only after the batch is durable (see module doc)
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",  # a new group starts at the beginning: nothing is skipped
        # How long a killed member keeps its partitions. Heartbeats run on a background thread,
        # so a long pipeline run between polls is bounded by max.poll.interval.ms (5 min), not this.
        "session.timeout.ms": kafka.session_timeout_ms,
    }
    if bootstrap_servers:
        config["bootstrap.servers"] = bootstrap_servers
    return config | dict(extra or {})


# Errors that mean "the broker is not there (or not answering) right now": retry later.
_UNREACHABLE = frozenset(
    {
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TRANSPORT,
        KafkaError._RESOLVE,
        KafkaError._TIMED_OUT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._WAIT_COORD,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
    }
)
# A commit refused because the group moved on (a rebalance, or this member expired while the
# broker was away): the partitions' new owner re-reads the batch from the last commit.
_GROUP_MOVED_ON = frozenset(
    {
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError._ASSIGNMENT_LOST,
        KafkaError._STATE,
    }
)
_REFUSED_CREDENTIALS = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError._SSL})


class _ClientLog:
    """librdkafka's log lines, at DEBUG: connection trouble reaches the user as one status line instead."""

    def log(self, level: int, message: str, *args: object) -> None:
        _client_log.debug(message, *args)


class _Bounded:
    """A blocking librdkafka call on a daemon thread, waited on for a bounded time.

    librdkafka blocks a synchronous commit (and ``close``) for as long as a frozen broker
    stays frozen. The call keeps running after a timed-out wait; the next wait resumes it
    rather than starting a second one.
    """

    def __init__(self, call: Callable[[], object], *, name: str) -> None:
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(call,), name=name, daemon=True)
        self._thread.start()

    def _run(self, call: Callable[[], object]) -> None:
        try:
            call()
        except BaseException as exc:  # handed to the waiting thread
            self.error = exc

    def wait(self, timeout_s: float) -> bool:
        """True once the call has returned (see ``error``), False if it is still running."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()


class KafkaBatchSource:
    """A consumer-group member returning micro-batches; ``commit`` stores the offsets after them."""

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        topics: Sequence[str] | None = None,
        group_id: str | None = None,
        bootstrap_servers: str | None = None,
        extra_config: Mapping[str, Any] | None = None,
        join_wait_s: float | None = None,
        request_timeout_s: float = 10.0,
    ) -> None:
        self.topics = list(topics or kafka.topics)
        if not self.topics:
            raise SourceError("no Kafka topics to consume: set kafka.topics (LOGISTICS_KAFKA__TOPICS='[\"...\"]')")
        self.group_id = group_id or kafka.consumer_group
        self.where = f"broker at {bootstrap_servers or kafka.bootstrap_servers}"
        config = consumer_config(kafka, group_id=self.group_id, bootstrap_servers=bootstrap_servers, extra=extra_config)
        self._config = config
        # The entries a helper client needs to reach the same cluster (see _has_records_after).
        self._connection = {key: config[key] for key in security_config(kafka)}
        self._consumer = Consumer(config | {"error_cb": self._on_client_error, "logger": _ClientLog()})
        session_s = int(config["session.timeout.ms"]) / 1000
        # A join takes ~half the session timeout, plus up to a whole one while a killed member expires.
        self._join_wait_s = join_wait_s if join_wait_s is not None else 2 * session_s
        self._request_timeout_s = request_timeout_s
        self._assigned: set[tuple[str, int]] = set()
        self._joined = False
        # (topic, partition) -> next offset to read, for everything polled but not yet committed.
        self._pending: dict[tuple[str, int], int] = {}
        self._commit: _Bounded | None = None
        self._committing: dict[tuple[str, int], int] = {}
        self._client_error: KafkaError | None = None  # the last one librdkafka reported, until progress is made
        self._consumer.subscribe(self.topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_client_error(self, error: KafkaError) -> None:
        self._client_error = error
        log.debug("kafka client error: %s", error.str())

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._joined = True
        self._client_error = None
        self._assigned |= {(p.topic, p.partition) for p in partitions}

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        revoked = {(p.topic, p.partition) for p in partitions}
        self._assigned -= revoked
        # Records of a revoked partition are not durable yet; committing them later would be a
        # lie, so forget them: the partition's new owner re-reads them from the last commit.
        dropped = [tp for tp in self._pending if tp in revoked]
        for tp in dropped:
            del self._pending[tp]
        if dropped:
            log.info("partitions %s revoked with uncommitted records: they will be redelivered", dropped)

    @property
    def assignment(self) -> set[tuple[str, int]]:
        return set(self._assigned)

    def poll(self, *, max_records: int, timeout_s: float) -> list[SourceRecord]:
        """Up to ``max_records``; waits ``timeout_s`` for the first (after the group join completes).

        Raises :class:`SourceUnavailable` when the join does not complete in time or nothing
        arrived while the client reports the broker down.
        """
        records = self._await_join(max_records=max_records)
        if not records:
            # consume() waits its whole timeout unless num_messages arrive, so wait for ONE record,
            # then take what the client has fetched meanwhile with a short linger.
            records = self._take(self._consume(1, timeout_s))
            if not records:
                self._raise_if_unreachable()
                return []
        # Keep collecting while records arrive, and (bounded) while an assigned partition has not
        # had its first fetch answered: right after a join, partitions are fetched one by one, and
        # a batch cut before the last arrives splits what belongs together (a producer's retried
        # copies then count as "already present" instead of as duplicates).
        unfetched_until = time.monotonic() + _FIRST_FETCH_WAIT_S
        while len(records) < max_records:
            messages = self._consume(max_records - len(records), _BATCH_LINGER_S)
            if messages:
                records.extend(self._take(messages))
            elif time.monotonic() > unfetched_until or not self._unfetched_partitions():
                break
        self._client_error = None
        return records

    def _unfetched_partitions(self) -> list[tuple[str, int]]:
        """Assigned partitions with no fetch response yet (no high watermark known locally)."""
        return [
            (topic, partition)
            for topic, partition in self._assigned
            if self._consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)[1] < 0
        ]

    def _consume(self, count: int, timeout_s: float) -> list[Message]:
        try:
            return self._consumer.consume(num_messages=count, timeout=timeout_s)
        except KafkaException as exc:
            raise self._problem(exc.args[0], doing="reading") from exc

    def _await_join(self, *, max_records: int) -> list[SourceRecord]:
        """Drive the group join until partitions are assigned, for at most ``join_wait_s``.

        Polling before the join completes returns nothing, which a caller would take for an
        idle topic; so a join still under way is reported as :class:`SourceUnavailable` (the
        drain retries, on this same consumer). Records fetched in the call that completes
        the join are returned, not lost.
        """
        records: list[SourceRecord] = []
        deadline = time.monotonic() + self._join_wait_s
        while not self._joined:
            error = self._client_error
            if error is not None and error.code() in _REFUSED_CREDENTIALS:
                raise self._problem(error, doing="joining the consumer group")
            self._raise_if_unreachable(doing="joining the consumer group")
            if time.monotonic() > deadline:
                raise SourceUnavailable(
                    f"{self.where}: consumer group {self.group_id!r} was not assigned partitions within "
                    f"{self._join_wait_s:.0f} s (a killed member keeps them until its session times out, "
                    f"{int(self._config['session.timeout.ms']) / 1000:.0f} s)"
                )
            records.extend(self._take(self._consume(max_records, 0.2)))
        return records

    def _take(self, messages: list[Message]) -> list[SourceRecord]:
        """The records among ``messages``; an error message fails the call only when no record came with it
        (their offsets are pending already, so they must reach the caller)."""
        records: list[SourceRecord] = []
        problem: KafkaError | None = None
        for message in messages:
            error = message.error()
            if error is None:
                records.append(self._record(message))
            elif error.code() != KafkaError._PARTITION_EOF:
                problem = error
        if problem is not None:
            if records:
                log.warning("kafka: %s (after %d records of this batch)", problem.str(), len(records))
            else:
                raise self._problem(problem, doing="reading")
        return records

    def _raise_if_unreachable(self, *, doing: str = "reading") -> None:
        """If the client reported the broker down, ask the broker (briefly) to be sure; it answering
        clears the report (librdkafka says when brokers go down, not when they come back)."""
        error = self._client_error
        if error is None or error.code() not in _UNREACHABLE:
            return
        try:
            self._consumer.list_topics(timeout=min(_REACHABLE_CHECK_S, self._request_timeout_s))
        except KafkaException as exc:  # the client's own report names the address and the cause
            raise self._problem(self._client_error or error, doing=doing) from exc
        self._client_error = None

    def _problem(self, error: KafkaError, *, doing: str) -> SourceUnavailable | SourceError:
        text = error.str()
        if error.code() in _UNREACHABLE or (error.retriable() and not error.fatal()):
            return SourceUnavailable(f"{self.where} unreachable while {doing} ({text})")
        if error.code() in _REFUSED_CREDENTIALS:
            return SourceError(
                f"{self.where} refused the connection ({text}): check kafka.security_protocol and "
                "LOGISTICS_KAFKA__SASL_USERNAME / LOGISTICS_KAFKA__SASL_PASSWORD"
            )
        if error.code() in (KafkaError._UNKNOWN_TOPIC, KafkaError.UNKNOWN_TOPIC_OR_PART):
            return SourceError(
                f"{self.where} has no topic {', '.join(self.topics)} ({text}): create it, or fix kafka.topics"
            )
        return SourceError(f"{self.where}: {text} (while {doing})")

    def _record(self, message: Message) -> SourceRecord:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None
        self._pending[(topic, partition)] = offset + 1
        kind, millis = message.timestamp()
        published = (
            dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)
            if kind != TIMESTAMP_NOT_AVAILABLE and millis > 0
            else None
        )
        raw_headers = message.headers() or []
        # A consumer's messages carry headers as a list of pairs; the dict form is a producer's.
        pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
        headers = {
            key: value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
            for key, value in pairs
            if value is not None
        }
        return SourceRecord(
            value=decode_value(message.value() or b""),
            source_system=f"kafka:{topic}",
            attributes=headers,
            publish_time=published,
        )

    def commit(self) -> None:
        """Commit, synchronously, the offset after the last polled record of each partition.

        Waits at most ``request_timeout_s``; a commit still unanswered then is
        :class:`SourceUnavailable`, and calling again waits on that same commit. A commit the
        group refuses because it rebalanced meanwhile is given up (the partitions' owner
        re-reads the batch from the last commit; silver skips what it holds).
        """
        if self._commit is None:
            if not self._pending:
                return
            self._committing = dict(self._pending)
            offsets = [TopicPartition(t, p, offset) for (t, p), offset in self._committing.items()]
            self._commit = _Bounded(
                lambda: self._consumer.commit(offsets=offsets, asynchronous=False), name="kafka-commit"
            )
        if not self._commit.wait(self._request_timeout_s):
            raise SourceUnavailable(
                f"{self.where} unreachable while committing offsets (no answer within {self._request_timeout_s:.0f} s)"
            )
        error, self._commit = self._commit.error, None
        committed, self._committing = self._committing, {}
        if isinstance(error, KafkaException):
            kafka_error: KafkaError = error.args[0]
            if kafka_error.code() not in _GROUP_MOVED_ON:
                raise self._problem(kafka_error, doing="committing offsets") from error
            log.warning(
                "offsets not committed (%s): the group rebalanced; the batch will be redelivered and found in silver",
                kafka_error.str(),
            )
        elif error is not None:
            raise error
        for tp, offset in committed.items():
            if self._pending.get(tp) == offset:
                del self._pending[tp]

    def drained(self) -> bool:
        """Whether every partition of the topics has been read to its end by this group.

        A partition this member owns is read up to its position; another member's (or one
        nobody owns yet) up to the group's committed offset. The end is the larger of the
        broker's latest offset and the high watermark of this consumer's last fetch: Tansu
        0.6.0 answers a latest-offset request with the base offset of the partition's last
        record batch + 1, short whenever that batch holds several records, while its fetch
        responses carry the true high watermark (``docs/troubleshooting.md``). A partition
        this member has not fetched and that looks read to its end is confirmed by reading
        past the offset (:meth:`_has_records_after`), so a short answer never ends a drain early.
        """
        try:
            metadata = self._consumer.list_topics(timeout=self._request_timeout_s)
            partitions = []
            for topic in self.topics:
                described = metadata.topics.get(topic)
                if described is None or described.error is not None:
                    raise SourceError(f"{self.where} has no topic {topic!r}: create it, or fix kafka.topics")
                partitions += [TopicPartition(topic, p) for p in sorted(described.partitions)]
            positions = {
                (tp.topic, tp.partition): tp.offset
                for tp in self._consumer.position([TopicPartition(t, p) for t, p in self._assigned])
            }
            committed = {
                (tp.topic, tp.partition): tp.offset
                for tp in self._consumer.committed(partitions, timeout=self._request_timeout_s)
            }
            unconfirmed: list[TopicPartition] = []
            for tp in partitions:
                key = (tp.topic, tp.partition)
                low, latest = self._consumer.get_watermark_offsets(tp, timeout=self._request_timeout_s, cached=False)
                _, fetched = self._consumer.get_watermark_offsets(tp, cached=True)
                end = max(latest, fetched)
                position = positions.get(key, OFFSET_INVALID)
                read_to = position if position >= 0 else committed[key] if committed[key] >= 0 else low
                if read_to < end:
                    log.info("kafka %s[%d]: read to %d of %d; not drained", tp.topic, tp.partition, read_to, end)
                    return False
                if position < 0 and end > low:
                    unconfirmed.append(TopicPartition(tp.topic, tp.partition, read_to))
        except KafkaException as exc:
            raise self._problem(exc.args[0], doing="reading end offsets") from exc
        return not unconfirmed or not self._has_records_after(unconfirmed)

    def _has_records_after(self, partitions: list[TopicPartition]) -> bool:
        """Read each partition from its offset with a throwaway consumer outside the group
        (assigned, never subscribed, never committing): a record means it is not drained."""
        reader = Consumer(
            self._connection
            | {
                "group.id": f"{self.group_id}.drain-check-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "logger": _ClientLog(),
            }
        )
        try:
            reader.assign(partitions)
            at_end: set[tuple[str, int]] = set()
            deadline = time.monotonic() + self._request_timeout_s
            while len(at_end) < len(partitions):
                if time.monotonic() > deadline:
                    raise SourceUnavailable(
                        f"{self.where} unreachable while reading end offsets (no answer within "
                        f"{self._request_timeout_s:.0f} s)"
                    )
                for message in reader.consume(num_messages=100, timeout=0.2):
                    error = message.error()
                    if error is None:
                        return True
                    if error.code() == KafkaError._PARTITION_EOF:
                        at_end.add((message.topic() or "", message.partition() or 0))
                    elif error.code() not in _UNREACHABLE:
                        raise self._problem(error, doing="reading end offsets")
            return False
        finally:
            _Bounded(reader.close, name="kafka-close").wait(self._request_timeout_s)

    def close(self) -> None:
        """Leave the group without committing anything still pending (it is not durable); returns
        within ``request_timeout_s`` even if the broker does not answer (the process is exiting)."""
        self._pending.clear()
        if not _Bounded(self._consumer.close, name="kafka-close").wait(self._request_timeout_s):
            log.warning("%s did not answer while leaving the consumer group; left without it", self.where)
