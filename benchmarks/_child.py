"""Run one benchmark contender in a fresh interpreter and measure it there.

A fresh process per contender: nothing one leaves behind (imports, caches, process-wide
settings) touches another, and the peak RSS is that contender's alone.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def measured_in_child(function: str, *args: str) -> dict[str, Any]:
    """Call ``module.function(*args)`` in a new interpreter.

    Returns the function's own result (a JSON-able dict) plus ``seconds`` (wall), ``cpu_seconds``
    and ``peak_rss_mb`` of that call's process.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._child", function, *args],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


def _main(function: str, *args: str) -> None:
    module, name = function.rsplit(".", 1)
    target = getattr(importlib.import_module(module), name)
    start, cpu = time.perf_counter(), time.process_time()
    result = dict(target(*args) or {})
    result["seconds"] = time.perf_counter() - start
    result["cpu_seconds"] = time.process_time() - cpu
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    _main(*sys.argv[1:])
