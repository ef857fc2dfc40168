"""The GraphQL/REST API on uvicorn in its own process, as ``logistics serve`` runs it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from logistics.local._process import free_port, listening_process


@dataclass(frozen=True)
class ApiServer:
    url: str  # e.g. http://127.0.0.1:8000

    @property
    def graphql(self) -> str:
        return f"{self.url}/graphql"


@contextmanager
def api_server(*, log_dir: Path, port: int | None = None, env: Mapping[str, str] = {}) -> Iterator[ApiServer]:
    """``logistics serve`` on loopback with this process's environment plus ``env``."""
    port = port or free_port()
    command = [sys.executable, "-m", "logistics.cli.main", "serve", "--port", str(port)]
    with listening_process(command, port=port, log=log_dir / "api.log", timeout_s=60, env={**os.environ, **env}):
        yield ApiServer(url=f"http://127.0.0.1:{port}")
