"""API fixtures: real uvicorn servers over real DuckDB warehouses filled by the generator + pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import pytest
import uvicorn
from fastapi import FastAPI

from graphql_api.app import create_app
from logistics.local import free_port
from logistics.settings import ApiKeySettings, ApiSettings, Settings, StorageSettings

READ_KEY = "test-read-key"
PII_KEY = "test-pii-key"
READ = {"X-API-Key": READ_KEY}
PII = {"Authorization": f"Bearer {PII_KEY}"}


def api_settings(**overrides: object) -> ApiSettings:
    keys = [
        ApiKeySettings(name="reader", sha256=hashlib.sha256(READ_KEY.encode()).hexdigest(), scopes=["read"]),
        ApiKeySettings(name="pii", sha256=hashlib.sha256(PII_KEY.encode()).hexdigest(), scopes=["read", "read:pii"]),
    ]
    # Live updates off unless a test turns them on: a session that started the Pub/Sub emulator
    # (PUBSUB_EMULATOR_HOST) must not change what every later API test runs.
    defaults = {"keys": keys, "cors_origins": ["https://ops.example.com"], "live_updates": "off"}
    return ApiSettings(**{**defaults, **overrides})  # type: ignore[arg-type]


def with_api(settings: Settings, **overrides: object) -> Settings:
    return settings.model_copy(update={"api": api_settings(**overrides)})


@contextlib.contextmanager
def running(app: FastAPI) -> Iterator[str]:
    """``app`` on a real uvicorn server on a free loopback port, for the duration of the block."""
    port = free_port()
    # As `logistics serve` runs it: a WebSocket message is held to the body limit.
    ws_max_size = app.state.settings.api.max_body_bytes
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_max_size=ws_max_size)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "API server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class ApiKit:
    """What API tests need, as one fixture (tests cannot import conftest under importlib mode)."""

    read: dict[str, str]
    pii: dict[str, str]

    @staticmethod
    def settings(settings: Settings, **overrides: object) -> Settings:
        return with_api(settings, **overrides)

    @staticmethod
    def serve(settings: Settings) -> contextlib.AbstractContextManager[str]:
        return running(create_app(settings))

    @staticmethod
    def serve_app(app: FastAPI) -> contextlib.AbstractContextManager[str]:
        """An app the test built itself (to look at its state while it serves)."""
        return running(app)

    @staticmethod
    def live_server(url: str, app: FastAPI) -> LiveServer:
        return LiveServer(url=url, app=app, settings=app.state.settings)


@dataclass
class LiveServer:
    """A served app with live updates, and what a test needs to feed it: the pipeline's messages on the topic."""

    url: str
    app: FastAPI
    settings: Settings

    @property
    def ws(self) -> str:
        return "ws" + self.url.removeprefix("http") + "/graphql"

    async def wait_for_subscribers(self, count: int) -> None:
        """Until ``count`` GraphQL subscriptions are registered in the server's hub (then a publish reaches them)."""
        for _ in range(300):
            if self.app.state.live.hub.subscribers >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"only {self.app.state.live.hub.subscribers} of {count} subscribers registered")

    def publish(self, *rows: tuple[str, dict[str, Any]]) -> None:
        from logistics.updates import update_message
        from pipeline.sources.pubsub import publish

        messages = [update_message(table, row) for table, row in rows]
        publish(project=self.settings.gcp.project_id, topic=self.settings.pubsub.topics["updates"], messages=messages)

    def silver_row(self, like: str, **changes: Any) -> dict[str, Any]:
        """A real silver row of shipment ``like`` as a new event (fresh id, an hour later, ``changes``): what the
        pipeline publishes."""
        with duckdb.connect(str(self.settings.storage.duckdb_path), read_only=True) as db:
            cursor = db.execute(
                "SELECT * FROM clean.shipment_events WHERE shipment_id = ? ORDER BY event_time DESC LIMIT 1", [like]
            )
            row = dict(zip([c[0] for c in cursor.description], cursor.fetchone(), strict=True))
        row["payload"] = json.loads(row["payload"])
        row.update(event_id=f"live-{uuid.uuid4()}", event_time=row["event_time"] + dt.timedelta(hours=1))
        row.update(changes)
        return row


@pytest.fixture(scope="module")
def live(spine, kit, pubsub_emulator) -> Iterator[LiveServer]:
    """The spine's API with live updates on, fed by the Pub/Sub emulator's updates topic."""
    settings = kit.settings(spine.settings, live_updates="on")
    settings = settings.model_copy(
        update={"gcp": settings.gcp.model_copy(update={"project_id": pubsub_emulator.project})}
    )
    app = create_app(settings)
    with kit.serve_app(app) as url:
        yield LiveServer(url=url, app=app, settings=settings)


@pytest.fixture(scope="session")
def kit() -> ApiKit:
    return ApiKit(read=READ, pii=PII)


@dataclass
class Fleet:
    """A bigger warehouse than the shared spine: 50 shipments, for batching and paging tests."""

    settings: Settings
    batch: object


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    from pipeline.run import run_pipeline
    from pipeline.sources.simulator.spine import generate_events, write_jsonl

    root = tmp_path_factory.mktemp("fleet")
    settings = Settings(storage=StorageSettings(data_dir=root / "data"))
    batch = generate_events(shipments=50, seed=11)
    run_pipeline(settings=settings, input_pattern=str(write_jsonl(batch, root / "events.jsonl")))
    return Fleet(settings=settings, batch=batch)
