"""Run one benchmark contender in a fresh interpreter and measure it there.

A fresh process per contender: nothing one leaves behind (imports, caches, process-wide
settings) touches another, and the peak RSS is that contender's alone.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]


def measured_in_child(function: str, *args: str) -> dict[str, Any]:
    """Call ``module.function(*args)`` in a new interpreter.

    Returns the function's own result (a JSON-able dict) plus ``seconds`` (wall), ``cpu_seconds``
    (that call's process and any worker processes it started) and ``peak_rss_mb`` (the largest
    sum of their resident sets, sampled every 50 ms, and never below the call's own peak).
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


class _Descendants:
    """This process's descendants (the local runner's worker processes), sampled in a thread: the
    largest total resident set of the tree, and each descendant's CPU time as last seen (its
    last 50 ms are missed if it ends unreaped; the reaped ones' CPU comes from rusage)."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.peak_bytes = 0
        self.cpu_seconds: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every_s,), daemon=True)
        self._thread.start()

    def _sample(self, every_s: float) -> None:
        me = psutil.Process()
        while not self._stop.wait(every_s):
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):  # ended between the listing and the reading
                    total += child.memory_info().rss
                    times = child.cpu_times()
                    self.cpu_seconds[child.pid] = times.user + times.system
            self.peak_bytes = max(self.peak_bytes, total)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _main(function: str, *args: str) -> None:
    module, name = function.rsplit(".", 1)
    target = getattr(importlib.import_module(module), name)
    descendants = _Descendants()
    start, cpu, reaped_cpu = time.perf_counter(), time.process_time(), _children_cpu()
    result = dict(target(*args) or {})
    result["seconds"] = time.perf_counter() - start
    descendants.stop()
    workers_cpu = max(_children_cpu() - reaped_cpu, sum(descendants.cpu_seconds.values()))
    result["cpu_seconds"] = time.process_time() - cpu + workers_cpu
    result["processes"] = 1 + len(descendants.cpu_seconds)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    result["peak_rss_mb"] = max(descendants.peak_bytes, own_peak) / 1024 / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    _main(*sys.argv[1:])
