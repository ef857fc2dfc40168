"""``logistics kafka-bridge``: forward the Kafka consumer group into the pipeline's Pub/Sub topics.

What runs on Cloud Run beside the streaming Dataflow job (``infra/terraform/modules/kafka-bridge``):
offsets are committed once Pub/Sub has acknowledged each batch, so a restart loses nothing.
With ``PORT`` set (Cloud Run) it also answers ``GET /`` with its counts, the health check.
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated, Any

import typer

from logistics.cli._console import console


def kafka_bridge(
    max_records: Annotated[int, typer.Option(min=1, help="Records per batch (one commit each).")] = 1_000,
) -> None:
    """Forward Kafka (kafka.topics) into Pub/Sub (the event family's topic) until SIGTERM or Ctrl-C."""
    from logistics.cli._streaming import stop_on_signals
    from logistics.settings import get_settings
    from pipeline.sources.kafka import KafkaBatchSource
    from pipeline.sources.kafka_bridge import BridgeStats, run_bridge

    settings = get_settings()
    stop = threading.Event()
    stats = BridgeStats()
    source = KafkaBatchSource(kafka=settings.kafka)
    health = _serve_health(stats) if os.environ.get("PORT") else None
    console.print(
        f"bridging kafka {settings.kafka.bootstrap_servers} ({', '.join(source.topics)}) "
        f"into pubsub {settings.gcp.project_id}"
    )
    try:
        with stop_on_signals(stop):
            stats = run_bridge(source, settings=settings, stop=stop, max_records=max_records)
    finally:
        source.close()
        if health is not None:
            health.shutdown()
    for topic, count in sorted(stats.forwarded.items()):
        console.print(f"forwarded {count} record(s) to {topic}")


def _serve_health(stats: Any) -> ThreadingHTTPServer:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "forwarded": stats.total, "batches": stats.batches}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # Cloud Run probes often: no access log

    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Health)  # all interfaces: Cloud Run's port
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
