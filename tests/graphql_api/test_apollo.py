"""Apollo Client 4 (node) against the live server: a query, paging, automatic persisted queries and a subscription.

The client is ``apollo/client.mjs`` with the packages pinned in ``apollo/package-lock.json``, installed
from the npm registry by ``make apollo`` (``make test`` and ``.ci/run`` run it); nothing is downloaded
while the tests run. Without node, or without the installed packages, the test skips and says why.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import uuid
import warnings
from pathlib import Path
from typing import Any

import pytest

CLIENT_DIR = Path(__file__).resolve().parent / "apollo"
NODE = shutil.which("node")

pytestmark = pytest.mark.integration


def missing_reason() -> str | None:
    if NODE is None:
        return "node is not on PATH (Debian: apt-get install nodejs npm)"
    if not (CLIENT_DIR / "node_modules" / "@apollo" / "client").is_dir():
        return f"the client's npm packages are not installed: run `make apollo` (npm ci in {CLIENT_DIR})"
    return None


@pytest.fixture(scope="module")
def node() -> str:
    if reason := missing_reason():
        message = f"APOLLO CLIENT TEST NOT RUN: {reason}"
        warnings.warn(message, stacklevel=1)
        pytest.skip(message)
    assert NODE is not None
    return NODE


def test_apollo_client_queries_pages_persists_and_subscribes(node: str, live: Any) -> None:
    follow = f"SHP-APOLLO-{uuid.uuid4().hex[:6]}"
    event = live.silver_row("SHP-0002", shipment_id=follow, event_type="shipment.in_transit")

    async def run() -> dict[str, dict[str, Any]]:
        process = await asyncio.create_subprocess_exec(
            node,
            "client.mjs",
            f"{live.url}/graphql",
            live.ws,
            "test-read-key",
            follow,
            cwd=CLIENT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdout is not None and process.stderr is not None
        steps: dict[str, dict[str, Any]] = {}
        try:
            while line := await asyncio.wait_for(process.stdout.readline(), timeout=60):
                step = json.loads(line)
                steps[step.pop("step")] = step
                if "subscribed" in steps and "published" not in steps:
                    await live.wait_for_subscribers(1)
                    await asyncio.to_thread(live.publish, ("shipment_events", event))
                    steps["published"] = {}
            assert await asyncio.wait_for(process.wait(), timeout=30) == 0, (await process.stderr.read()).decode()
        finally:
            if process.returncode is None:
                process.kill()
        return steps

    steps = asyncio.run(run())
    assert steps["query"]["shipment"]["id"] == "SHP-0001" and steps["query"]["shipment"]["status"] == "DELIVERED"
    assert steps["paging"]["ids"] == [f"SHP-000{i}" for i in range(1, 6)]  # pages of 2 by cursor, in order
    assert steps["paging"]["unsetFirst"] == 5  # first: null is the default page size (20), not an error
    apq = steps["apq"]
    assert apq["first"]["id"] == apq["second"]["id"] == "SHP-0002"
    # Round one: the hash alone (PersistedQueryNotFound), then hash + text; round two: the hash alone suffices.
    assert [r["hashOnly"] for r in apq["firstRound"]] == [True, False]
    assert [r["hashOnly"] for r in apq["secondRound"]] == [True]
    update = steps["subscription"]
    assert update["error"] is None
    assert update["data"]["shipmentUpdated"]["id"] == follow
    assert update["data"]["shipmentUpdated"]["status"] == "IN_TRANSIT"
    assert update["data"]["shipmentUpdated"]["event"]["eventId"] == event["event_id"]
