"""Real brokers for the pipeline tests: a Tansu Kafka broker (and, from tests/conftest.py, the
official Pub/Sub emulator).

Each starts once per session on a free loopback port (the same launchers ``make demo`` uses,
``logistics.local``), is waited on until it accepts connections, and is always stopped. No
mock stands in for either.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from logistics.local import KafkaBroker
from logistics.local import kafka_broker as start_kafka


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """Tansu speaking the Kafka protocol, in-memory storage, on a free port."""
    with start_kafka(log_dir=tmp_path_factory.mktemp("tansu")) as broker:
        yield broker
