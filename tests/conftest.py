"""Shared fixtures: isolated settings per test session, one spine run reused by readers (a test
that writes takes a private ``warehouse_copy``), and the BigQuery emulator."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import warnings
import zlib
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from logistics.local import PubSubEmulator, free_port
from logistics.local import pubsub_emulator as start_pubsub
from logistics.local.pubsub import missing_reason
from logistics.settings import PROJECT_ROOT, Settings, StorageSettings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-components",
        action="store_true",
        default=os.environ.get("CI", "").lower() == "true",
        help="A test that skips (every skip here means a real component is missing) fails instead. "
        "On when CI=true: a CI run that skipped the browser or the emulator did not check them.",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.skipped and item.config.getoption("require_components"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"a required component is missing (--require-components, on when CI=true): {reason}"
    return report


def make_settings(data_dir: Path) -> Settings:
    return Settings(storage=StorageSettings(data_dir=data_dir))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose warehouse, bronze and staging live in this test's tmp folder."""
    return make_settings(tmp_path / "data")


@dataclass
class SpineRun:
    settings: Settings
    input_path: Path
    batch: object  # pipeline.sources.simulator.spine.GeneratedBatch
    ledger: object  # pipeline.run.Ledger


@pytest.fixture(scope="session")
def spine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpineRun]:
    """The generator's events run once through the real pipeline into a fresh warehouse."""
    from pipeline.run import run_pipeline
    from pipeline.sources.simulator.spine import generate_events, write_jsonl

    root = tmp_path_factory.mktemp("spine")
    settings = make_settings(root / "data")
    batch = generate_events(shipments=5, seed=7)
    input_path = write_jsonl(batch, root / "input" / "events.jsonl")
    ledger = run_pipeline(settings=settings, input_pattern=str(input_path))
    yield SpineRun(settings=settings, input_path=input_path, batch=batch, ledger=ledger)


@pytest.fixture
def warehouse_copy(spine: SpineRun, tmp_path: Path) -> Settings:
    """A private copy of the spine's warehouse (silver filled by the real pipeline) a test may write to.

    The spine is shared by the whole session: a test that built gold into it, or deleted rows,
    changed what every later reader saw, and the outcome depended on the order tests ran in.
    """
    settings = make_settings(tmp_path / "data")
    settings.storage.duckdb_path.parent.mkdir(parents=True)
    shutil.copy(spine.settings.storage.duckdb_path, settings.storage.duckdb_path)
    return settings


class Cli:
    """The ``logistics`` command as a user runs it: its own process, configured only by ``env``
    (no ``LOGISTICS_*`` variable of the test process leaks in), output captured as text."""

    command = (sys.executable, "-m", "logistics.cli.main")

    @staticmethod
    def environment(env: Mapping[str, str]) -> dict[str, str]:
        inherited = {k: v for k, v in os.environ.items() if not k.upper().startswith("LOGISTICS_")}
        return inherited | dict(env)

    def run(self, *args: str, env: Mapping[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.command, *args], env=self.environment(env), capture_output=True, text=True, timeout=timeout
        )

    def start(self, *args: str, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
        """Started, not waited for (to be killed): stdout and stderr go to ``log``."""
        with log.open("ab") as out:
            return subprocess.Popen(
                [*self.command, *args], env=self.environment(env), stdout=out, stderr=subprocess.STDOUT
            )


@pytest.fixture(scope="session")
def cli() -> Cli:
    return Cli()


def _located_lines(*, shipments: int = 3, seed: int = 11) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The simulator's day with GPS added: every delivery attempt at its door, each driver pinging.

    Returns the input lines and, by event id, the precise position each event carries.
    """
    lines, precise = [], {}
    from pipeline.sources.simulator.spine import generate_events

    for line in generate_events(shipments=shipments, seed=seed).lines:
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            lines.append(line)
            continue
        # a few metres apart per event, the same for a producer's retried copy of it
        n = zlib.crc32(str(event.get("event_id") or event.get("eventId")).encode()) % 997
        if event.get("event_type") == "delivery.attempted":
            door = {"lat": 42.331427 + n / 1e5, "lon": -83.045754 - n / 1e5}
            event["payload"]["location"] = door
            precise[event["event_id"]] = door
        lines.append(orjson.dumps(event).decode())
        if event.get("event_type") == "driver.created" and f"ping-{event['payload']['driver_id']}" not in precise:
            ping_id = f"ping-{event['payload']['driver_id']}"
            position = {"lat": 41.878113 + n / 1e5, "lon": -87.629799}
            ping = {
                "event_id": ping_id,
                "event_type": "driver.location_updated",
                "event_version": 1,
                "event_time": "2024-01-15T11:00:00Z",
                "source_system": "test:telematics",
                "payload": {"driver_id": event["payload"]["driver_id"], "location": position, "speed_kmh": 30.0},
            }
            lines.append(orjson.dumps(ping).decode())
            precise[ping_id] = position
    return lines, precise


@pytest.fixture(scope="session")
def located_lines() -> Callable[..., tuple[list[str], dict[str, dict[str, float]]]]:
    """The simulator's day with GPS (door-step attempts, driver pings): (input lines, precise position by event id)."""
    return _located_lines


BQEMU = PROJECT_ROOT / ".venv-bqemu" / "bin" / "bqemulator"


@dataclass(frozen=True)
class BigQueryEmulator:
    url: str  # REST endpoint: the client's api_endpoint
    project: str
    gcs_root: Path  # a load job's gs://BUCKET/PATH reads GCS_ROOT/BUCKET/PATH


@pytest.fixture(scope="session")
def bigquery_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    """bqemulator 1.4.0 from its own venv (``make .venv-bqemu``), started once per session.

    It runs with a private HOME holding the DuckDB extensions its venv ships, so it never tries
    to download them. Without the venv, every test using it skips with the reason.
    """
    if not BQEMU.exists():
        pytest.skip(f"BigQuery emulator not installed at {BQEMU}: run `make .venv-bqemu` (see Makefile)")
    home = tmp_path_factory.mktemp("bqemu-home")
    extensions = home / ".duckdb" / "extensions" / "v1.5.5" / "linux_amd64"
    extensions.mkdir(parents=True)
    for shipped in (PROJECT_ROOT / ".venv-bqemu").rglob("*.duckdb_extension"):
        shutil.copy(shipped, extensions)
    gcs_root = home / "gcs"
    gcs_root.mkdir()
    project = "local-project"
    port = free_port()
    log = (home / "emulator.log").open("w")
    proc = subprocess.Popen(
        [
            str(BQEMU),
            "start",
            "--rest-port",
            str(port),
            "--grpc-port",
            "0",
            "--project",
            project,
            "--log-level",
            "warning",
        ],
        env={**os.environ, "HOME": str(home), "BQEMU_GCS_LOCAL_ROOT": str(gcs_root)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/bigquery/v2/projects/{project}/datasets", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"emulator did not start: {(home / 'emulator.log').read_text()[-2000:]}"
                    ) from None
                time.sleep(0.2)
        yield BigQueryEmulator(url=url, project=project, gcs_root=gcs_root)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def pubsub_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PubSubEmulator]:
    """The official Pub/Sub emulator (Java), shared by the pipeline and API tests; ``PUBSUB_EMULATOR_HOST``
    points the clients at it. Where it is not installed, every test using it skips and says so loudly."""
    if missing := missing_reason():
        reason = (
            f"PUB/SUB EMULATOR TESTS NOT RUN: {missing}. Install the Google Cloud CLI with the "
            "pubsub-emulator component (and Java 17) to run them; nothing stands in for the emulator."
        )
        warnings.warn(reason, stacklevel=1)
        pytest.skip(reason)
    with start_pubsub(log_dir=tmp_path_factory.mktemp("pubsub")) as emulator:
        yield emulator
