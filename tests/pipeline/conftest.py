"""Real brokers for the pipeline tests: a Tansu Kafka broker and the official Pub/Sub emulator.

Each starts once per session on a free loopback port (the same launchers ``make demo`` uses,
``logistics.local``), is waited on until it accepts connections, and is always stopped. No
mock stands in for either: where the Pub/Sub emulator is not installed, its tests skip and
say so loudly.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest

from logistics.local import KafkaBroker, PubSubEmulator
from logistics.local import kafka_broker as start_kafka
from logistics.local import pubsub_emulator as start_pubsub
from logistics.local.pubsub import missing_reason


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """Tansu speaking the Kafka protocol, in-memory storage, on a free port."""
    with start_kafka(log_dir=tmp_path_factory.mktemp("tansu")) as broker:
        yield broker


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PubSubEmulator]:
    """The official Pub/Sub emulator (Java); ``PUBSUB_EMULATOR_HOST`` points the clients at it."""
    if missing := missing_reason():
        reason = (
            f"PUB/SUB EMULATOR TESTS NOT RUN: {missing}. Install the Google Cloud CLI with the "
            "pubsub-emulator component (and Java 17) to run them; nothing stands in for the emulator."
        )
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    with start_pubsub(log_dir=tmp_path_factory.mktemp("pubsub")) as emulator:
        yield emulator
