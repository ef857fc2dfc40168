"""The official Pub/Sub emulator (Java), started directly: gcloud's wrapper wants a metadata server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from logistics.local._process import ComponentMissing, free_port, listening_process

PUBSUB_EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")
PUBSUB_PROJECT = "local-project"  # Beam and the clients want a valid GCP project name (6+ characters)


@dataclass(frozen=True)
class PubSubEmulator:
    host: str
    project: str = PUBSUB_PROJECT
    pid: int | None = None  # the emulator's process (its launcher execs Java): fault drills stop or kill it


def missing_reason() -> str | None:
    if not PUBSUB_EMULATOR.exists():
        return f"{PUBSUB_EMULATOR} is not installed (Google Cloud CLI with the pubsub-emulator component)"
    if shutil.which("java") is None:
        return "java is not on PATH (the Pub/Sub emulator needs Java 17)"
    return None


@contextmanager
def pubsub_emulator(*, log_dir: Path, port: int | None = None) -> Iterator[PubSubEmulator]:
    """Run the emulator and point this process's clients at it (``PUBSUB_EMULATOR_HOST``) until the block ends."""
    if reason := missing_reason():
        raise ComponentMissing(reason)
    port = port or free_port()
    command = [str(PUBSUB_EMULATOR), "--host=127.0.0.1", f"--port={port}"]
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    with listening_process(command, port=port, log=log_dir / "pubsub-emulator.log", timeout_s=60) as process:
        os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        try:
            yield PubSubEmulator(host=f"127.0.0.1:{port}", pid=process.pid)
        finally:
            if previous is None:
                os.environ.pop("PUBSUB_EMULATOR_HOST", None)
            else:
                os.environ["PUBSUB_EMULATOR_HOST"] = previous
