"""The real components the embedded defaults run on one machine, started and always stopped.

Used by ``make demo`` and by the test fixtures alike, so the demo runs on exactly what
the tests verified: a Tansu broker speaking the Kafka protocol, the official Pub/Sub
emulator, the API on uvicorn, and Airflow on SQLite (docs/local-components.md).
"""

from logistics.local._process import ComponentMissing, free_port
from logistics.local.api import ApiServer, api_server
from logistics.local.kafka import KafkaBroker, kafka_broker
from logistics.local.pubsub import PUBSUB_PROJECT, PubSubEmulator, pubsub_emulator

__all__ = [
    "PUBSUB_PROJECT",
    "ApiServer",
    "ComponentMissing",
    "KafkaBroker",
    "PubSubEmulator",
    "api_server",
    "free_port",
    "kafka_broker",
    "pubsub_emulator",
]
