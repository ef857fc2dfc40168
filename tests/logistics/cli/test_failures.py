"""User-facing faults through the real CLI process: one line each on stderr, no traceback
(``--debug`` adds it), a non-zero exit, and nothing written before the fault is found.

Bad configuration, a damaged warehouse file (empty, garbage, truncated), read-only folders
and files, a cloud environment without credentials, a bad PII key, and ``--input`` against
a configured broker source.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

SILVER = ("shipment_events", "delivery_events", "facility_events", "driver_events")


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], None]]:
    """Make a file or folder read-only for every process, root included (root ignores permission
    bits: it gets the immutable attribute instead); undone after the test."""
    made: list[tuple[Path, int | None]] = []

    def make(path: Path) -> None:
        if os.geteuid() == 0:
            done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
            if done.returncode != 0:
                pytest.skip(f"READ-ONLY DRILL NOT RUN: running as root and `chattr +i {path}` failed: {done.stderr}")
            made.append((path, None))
        else:
            mode = path.stat().st_mode
            path.chmod(mode & ~0o222)
            made.append((path, mode))

    yield make
    for path, mode in reversed(made):
        if mode is None:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(mode)


def _errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The error lines, after checking there is no traceback anywhere in the output."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def _silver_ids(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [row[0] for table in SILVER for row in con.execute(f"SELECT event_id FROM clean.{table}").fetchall()]


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


# --- configuration -----------------------------------------------------------------------------


def test_configuration_errors_are_one_line_each_and_debug_shows_the_traceback(cli: Any, tmp_path: Path) -> None:
    env = {
        "LOGISTICS_STORAGE__DATA_DIR": str(tmp_path),
        "LOGISTICS_KAFKA__BOOTSTRAP_SERVER": "broker:9092",
        "LOGISTICS_API__MAX_DEPTH": "ten",
    }
    result = cli.run("sla", env=env)
    assert result.returncode == 2
    assert _errors(result) == [
        "error: unknown setting LOGISTICS_KAFKA__BOOTSTRAP_SERVER (did you mean LOGISTICS_KAFKA__BOOTSTRAP_SERVERS?)",
        "error: LOGISTICS_API__MAX_DEPTH='ten': input should be a valid integer, unable to parse string as an integer",
    ]

    debug = cli.run("--debug", "sla", env=env)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "logistics.errors.ConfigError" in debug.stderr

    staging = cli.run("sla", env={"LOGISTICS_STORAGE__DATA_DIR": str(tmp_path), "LOGISTICS_ENV": "staging"})
    assert staging.returncode == 2
    assert _errors(staging) == [
        "error: LOGISTICS_ENV='staging' is not a known environment: use one of local, dev, prod "
        "(each has its overlay in config/<env>.yaml)"
    ]


# --- the warehouse file ------------------------------------------------------------------------


@pytest.fixture
def spine_copy(spine: Any, tmp_path: Path) -> Path:
    """A private copy of the spine's data folder (warehouse and bronze archive) a test may damage."""
    data_dir = tmp_path / "data"
    shutil.copytree(spine.settings.storage.resolved_data_dir(), data_dir, ignore=shutil.ignore_patterns("staging"))
    return data_dir


def _damage(warehouse: Path, how: str) -> None:
    whole = warehouse.read_bytes()
    if how == "empty":
        warehouse.write_bytes(b"")
    elif how == "garbage":
        warehouse.write_bytes(random.Random(7).randbytes(len(whole)))
    else:  # truncated: the headers and catalog survive, data blocks do not
        warehouse.write_bytes(whole[: len(whole) // 2])


def _bronze_days(data_dir: Path) -> tuple[str, str]:
    days = sorted(
        "-".join(p.relative_to(data_dir / "bronze" / "events").parts)
        for p in (data_dir / "bronze" / "events").glob("*/*/*")
    )
    return days[0], days[-1]


@pytest.mark.parametrize("how", ["empty", "garbage", "truncated"])
def test_a_damaged_warehouse_is_one_line_naming_the_file_and_the_recovery(
    cli: Any, spine: Any, spine_copy: Path, how: str
) -> None:
    warehouse = spine_copy / "warehouse.duckdb"
    _damage(warehouse, how)
    first, last = _bronze_days(spine_copy)
    env = {"LOGISTICS_STORAGE__DATA_DIR": str(spine_copy)}
    commands = [["dlq", "summary"], ["sla"]]
    if how == "truncated":  # the subtle one: the file opens, and a query may miss the lost blocks
        commands += [["build-marts", "--date", first], ["run-pipeline", "--input", str(spine.input_path)]]
    bronze_before = _files(spine_copy / "bronze")
    for command in commands:
        result = cli.run(*command, env=env)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        (line,) = _errors(result)
        assert line.startswith(f"error: the warehouse {warehouse} is damaged: "), (command, line)
        assert f"`mv {warehouse} {warehouse}.damaged`" in line
        assert f"`logistics replay --from bronze --start {first} --end {last}`" in line
    assert _files(spine_copy / "bronze") == bronze_before  # run-pipeline wrote nothing

    if how != "truncated":
        return
    # The recovery the message gives works: set the file aside, rebuild silver from bronze.
    warehouse.rename(warehouse.parent / f"{warehouse.name}.damaged")
    rebuilt = cli.run("replay", "--from", "bronze", "--start", first, "--end", last, env=env)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    ids = _silver_ids(warehouse)
    assert len(ids) == len(set(ids)) == spine.batch.events
    summary = cli.run("dlq", "summary", env=env)
    assert summary.returncode == 0 and _errors(summary) == []


# --- read-only folders and files ---------------------------------------------------------------


def test_a_read_only_data_folder_stops_the_run_before_any_work(
    cli: Any, spine: Any, tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    read_only(data_dir)
    result = cli.run(
        "run-pipeline", "--input", str(spine.input_path), env={"LOGISTICS_STORAGE__DATA_DIR": str(data_dir)}
    )
    assert result.returncode == 1
    (line,) = _errors(result)
    assert re.fullmatch(
        rf"error: cannot write to {data_dir} \((Permission denied|Operation not permitted)\), which "
        r"storage.data_dir \(LOGISTICS_STORAGE__DATA_DIR\) names: make it writable, or point the setting at "
        r"a folder that is",
        line,
    ), line
    assert list(data_dir.iterdir()) == []


def test_a_read_only_warehouse_stops_the_run_before_bronze_is_written(
    cli: Any, spine: Any, spine_copy: Path, read_only: Callable[[Path], None]
) -> None:
    warehouse = spine_copy / "warehouse.duckdb"
    shutil.rmtree(spine_copy / "bronze")
    read_only(warehouse)
    env = {"LOGISTICS_STORAGE__DATA_DIR": str(spine_copy)}
    result = cli.run("run-pipeline", "--input", str(spine.input_path), env=env)
    assert result.returncode == 1
    (line,) = _errors(result)
    assert line.startswith(f"error: cannot write the warehouse {warehouse} ("), line
    assert _files(spine_copy / "bronze") == set()  # nothing of the run was written

    # Commands that open it to write say the same, not DuckDB's IOException.
    sla = cli.run("sla", env=env)
    (line,) = _errors(sla)
    assert sla.returncode == 1 and line.startswith(f"error: cannot write the warehouse {warehouse} ("), line


# --- the cloud environments and the PII key ----------------------------------------------------


def test_dev_without_credentials_says_how_to_set_them_up_and_mentions_the_pii_key(
    cli: Any, spine: Any, tmp_path: Path
) -> None:
    home = tmp_path / "home"  # no application-default credentials in it
    home.mkdir()
    env = {
        "LOGISTICS_ENV": "dev",
        "LOGISTICS_STORAGE__DATA_DIR": str(tmp_path / "data"),
        "HOME": str(home),
        "CLOUDSDK_CONFIG": str(home / "gcloud"),
        "GOOGLE_APPLICATION_CREDENTIALS": "",
        "NO_GCE_CHECK": "True",  # no metadata server here; do not wait for one
    }
    result = cli.run("run-pipeline", "--input", str(spine.input_path), env=env, timeout=120)
    assert result.returncode == 2
    credentials, pii = _errors(result)
    assert credentials.startswith("error: no Google Cloud credentials, and LOGISTICS_ENV=dev uses them for BigQuery")
    assert "`gcloud auth application-default login`" in credentials and "GOOGLE_APPLICATION_CREDENTIALS" in credentials
    assert pii.startswith("error: the PII tokenization key is read from Secret Manager (pii.secret=")
    assert _files(tmp_path / "data") == set()


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("not base64!", "the PII key is not valid base64 (make one with `logistics pii generate-key`)"),
        ("c2hvcnQ=", "a PII key is 64 bytes (AES-SIV-512), got 5"),
    ],
)
def test_a_bad_pii_key_is_found_before_any_work(cli: Any, spine: Any, tmp_path: Path, key: str, says: str) -> None:
    data_dir = tmp_path / "data"
    env = {"LOGISTICS_STORAGE__DATA_DIR": str(data_dir), "LOGISTICS_PII_KEY": key}
    result = cli.run("run-pipeline", "--input", str(spine.input_path), env=env)
    assert result.returncode == 2
    assert _errors(result) == [f"error: PII key (LOGISTICS_PII_KEY): {says}"]
    assert _files(data_dir / "bronze") == set()


# --- choosing the source -----------------------------------------------------------------------


def test_input_wins_over_the_configured_broker_source(cli: Any, spine: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        "LOGISTICS_STORAGE__DATA_DIR": str(data_dir),
        "LOGISTICS_PIPELINE__SOURCE": "kafka",
        "LOGISTICS_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",  # nothing there: draining it would fail
    }
    result = cli.run("run-pipeline", "--input", str(spine.input_path), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "balanced" in result.stdout and "draining" not in result.stdout
    assert len(_silver_ids(data_dir / "warehouse.duckdb")) == spine.batch.events

    both = cli.run("run-pipeline", "--input", str(spine.input_path), "--source", "kafka", env=env)
    assert both.returncode == 2 and "--input reads files; --source kafka drains a broker" in both.stderr


def test_publishing_to_an_absent_emulator_retries_with_status_lines_then_gives_up_in_one_line(
    cli: Any, spine: Any, tmp_path: Path
) -> None:
    from logistics.local._process import free_port

    where = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = {"LOGISTICS_STORAGE__DATA_DIR": str(tmp_path / "data"), "PUBSUB_EMULATOR_HOST": where}
    result = cli.run(
        "publish", str(spine.input_path), "--to", "pubsub", "--create", "--give-up-after", "3", env=env, timeout=120
    )
    assert result.returncode == 1, result.stdout + result.stderr
    said = " ".join(result.stderr.split())
    assert f"Pub/Sub emulator at {where} unreachable" in said and "retrying in" in said
    (error,) = _errors(result)
    assert error.startswith(f"error: gave up after 3 s of retrying: Pub/Sub emulator at {where} unreachable")
