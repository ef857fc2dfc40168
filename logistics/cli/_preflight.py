"""Checks a command makes before any work, so a fault is one clear line up front.

Without them the same faults surface late and wrapped: a read-only data folder as a
PermissionError from inside Beam, a read-only warehouse as a DuckDB error after all of
bronze was written, missing cloud credentials as google-auth tracebacks from three
workers, a bad PII key not at all until the first tokenized field. Each check returns
the problems it finds; :func:`require` raises them together as one error, a line each.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from logistics.errors import CredentialsMissing, LogisticsError, NotWritable
from logistics.settings import Settings

_CREDENTIALS_HELP = (
    "run `gcloud auth application-default login` (or set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service-account key file); LOGISTICS_ENV=local needs none"
)


def require(problems: Iterable[LogisticsError]) -> None:
    """Raise the problems found as one error (the class of the first; the highest exit code)."""
    found = list(problems)
    if not found:
        return
    if len(found) == 1:
        raise found[0]
    combined = type(found[0])("\n".join(str(problem) for problem in found))
    combined.exit_code = max(problem.exit_code for problem in found)
    raise combined


def pipeline_problems(settings: Settings, *, source: str, pii_key: bool = True) -> list[LogisticsError]:
    """What a pipeline run needs: its local folders and the warehouse writable, the warehouse
    whole, cloud credentials wherever the configuration uses the cloud, and (``pii_key``) the
    PII key; a command that looks for the key its own way passes ``pii_key=False``."""
    problems: list[LogisticsError] = [*folder_problems(settings), *warehouse_problems(settings, write=True)]
    problems += credential_problems(settings, uses=pipeline_cloud_uses(settings, source=source))
    if pii_key and not problems:  # the key may live in Secret Manager (credentials first)
        problems += pii_key_problems(settings)
    return problems


def warehouse_command_problems(settings: Settings, *, write: bool) -> list[LogisticsError]:
    """What a command reading (or, with ``write``, also writing) the warehouse needs: the file whole
    (and writable), the data folder writable, credentials for BigQuery."""
    problems = [*folder_problems(settings)] if write else []
    problems += warehouse_problems(settings, write=write)
    bigquery = settings.warehouse.backend == "bigquery" and not settings.bigquery.emulator_host
    return problems + credential_problems(settings, uses=["BigQuery"] if bigquery else [])


def folder_problems(settings: Settings) -> list[LogisticsError]:
    """Each local folder a run writes that cannot be created or written (children of a failed one are skipped)."""
    storage = settings.storage
    folders: list[tuple[Path, str]] = [(storage.resolved_data_dir(), "storage.data_dir (LOGISTICS_STORAGE__DATA_DIR)")]
    for uri, setting in (
        (storage.staging, "storage.staging_uri"),
        (storage.bronze, "storage.bronze_uri"),
        (storage.alerts, "storage.alerts_uri"),
    ):
        if "://" not in uri:
            folders.append((Path(uri), setting))
    problems: list[LogisticsError] = []
    failed: list[Path] = []
    for folder, setting in folders:
        if any(folder.is_relative_to(parent) for parent in failed):
            continue
        reason = _unwritable(folder)
        if reason:
            failed.append(folder)
            problems.append(
                NotWritable(
                    f"cannot write to {folder} ({reason}), which {setting} names: make it writable, "
                    "or point the setting at a folder that is"
                )
            )
    return problems


def warehouse_problems(settings: Settings, *, write: bool) -> list[LogisticsError]:
    """The DuckDB warehouse file: whole (see ``verify_file``) and, for ``write``, writable with its folder."""
    if settings.warehouse.backend != "duckdb":
        return []
    from logistics.warehouse.duckdb_backend import verify_file

    path = settings.storage.duckdb_path
    try:
        verify_file(path, bronze=settings.storage.bronze)
    except LogisticsError as exc:
        return [exc]
    if write and path.exists():
        try:
            with path.open("r+b"):
                pass
        except OSError as exc:
            return [
                NotWritable(
                    f"cannot write the warehouse {path} ({exc.strerror}): make it writable "
                    f"(`chmod u+w {path}`), or point LOGISTICS_STORAGE__DATA_DIR elsewhere; nothing was run"
                )
            ]
    return []


def credential_problems(settings: Settings, *, uses: list[str]) -> list[LogisticsError]:
    """Missing Google Cloud credentials, when the command uses Google Cloud services (``uses`` names them)."""
    if not uses:
        return []
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        google.auth.default()
    except DefaultCredentialsError as exc:
        named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
        detail = f" (GOOGLE_APPLICATION_CREDENTIALS={named}: {str(exc).splitlines()[0]})" if named else ""
        problems: list[LogisticsError] = [
            CredentialsMissing(
                f"no Google Cloud credentials{detail}, and LOGISTICS_ENV={settings.env} uses them for "
                f"{', '.join(uses)}: {_CREDENTIALS_HELP}"
            )
        ]
        if any(use.startswith("Secret Manager") for use in uses):
            problems.append(
                CredentialsMissing(
                    f"the PII tokenization key is read from Secret Manager (pii.secret={settings.pii.secret}) "
                    "with those credentials; without them nothing can be tokenized, so nothing is run"
                )
            )
        return problems
    return []


def pipeline_cloud_uses(settings: Settings, *, source: str) -> list[str]:
    """The Google Cloud services a pipeline run reaches in this configuration (emulators excluded)."""
    uses: list[str] = []
    if settings.warehouse.backend == "bigquery" and not settings.bigquery.emulator_host:
        uses.append("BigQuery")
    if settings.pipeline.runner == "DataflowRunner":
        uses.append("Dataflow")
    buckets = [u for u in (settings.storage.bronze, settings.storage.staging, settings.storage.alerts) if "://" in u]
    if any(u.startswith("gs://") for u in buckets) and not os.environ.get("STORAGE_EMULATOR_HOST"):
        uses.append("Cloud Storage")
    if (source == "pubsub" or settings.pipeline.publish_to_topics) and not os.environ.get("PUBSUB_EMULATOR_HOST"):
        uses.append("Pub/Sub")
    if settings.pii.secret:
        uses.append("Secret Manager (the PII key)")
    return uses


def pii_key_problems(settings: Settings) -> list[LogisticsError]:
    """A PII key that is missing, not base64, or the wrong length: found now, not at the first tokenized field."""
    from google.api_core.exceptions import GoogleAPICallError

    from logistics.pii import PiiKeyError, Tokenizer

    pii, data_dir = settings.pii, settings.storage.resolved_data_dir()
    local_key = data_dir / pii.local_key_file if pii.local_key_file else None
    if not pii.secret and not os.environ.get(pii.key_env) and local_key is not None and not local_key.exists():
        return []  # the run makes the local key on first use; a check never does
    try:
        Tokenizer.from_settings(pii, project_id=settings.gcp.project_id, data_dir=data_dir, create_local_key=False)
    except PiiKeyError as exc:
        source = f"pii.secret={pii.secret}" if pii.secret else pii.key_env
        return [CredentialsMissing(f"PII key ({source}): {exc}")]
    except GoogleAPICallError as exc:
        return [CredentialsMissing(f"cannot read the PII key from Secret Manager (pii.secret={pii.secret}): {exc}")]
    return []


def _unwritable(folder: Path) -> str | None:
    """Why ``folder`` cannot be created or written, or ``None``: tried for real (a probe file),
    since permission bits do not tell (root ignores them; read-only mounts and immutable files do not)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None
