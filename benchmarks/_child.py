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

from logistics.native import SWITCH

ROOT = Path(__file__).resolve().parents[1]


def child_environment(*, native: bool = True) -> dict[str, str]:
    """This environment, with this checkout first on the module path (a contender imports its code);
    ``native=False`` runs the compiled modules as Python (:mod:`logistics.native`)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **({} if native else {SWITCH: "0"})}


def measured_in_child(function: str, *args: str, native: bool = True) -> dict[str, Any]:
    """Call ``module.function(*args)`` in a new interpreter (``native``: see :func:`child_environment`).

    Returns the function's own result (a JSON-able dict) plus ``seconds`` (wall), ``cpu_seconds``
    (that call's process and any worker processes it started), ``peak_rss_mb`` (the largest sum
    of their resident sets, sampled every 50 ms, and never below the call's own peak) and
    ``peak_pss_mb`` (the largest sum of their proportional sets, sampled every 2 s: a page the
    processes share, such as a shared library's code, counted once in all, where the resident
    sets count it once per process).
    """
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks._child", function, *args],
        env=child_environment(native=native),
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return result


_PSS_EVERY_S = 2.0


class _Descendants:
    """This process's descendants (the local runner's worker processes), sampled in a thread: the
    largest total resident set of the tree, and each descendant's CPU time as last seen (its
    last 50 ms are missed if it ends unreaped; the reaped ones' CPU comes from rusage)."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.peak_bytes = 0
        self.peak_pss_bytes = 0
        self.cpu_seconds: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(every_s,), daemon=True)
        self._thread.start()

    def _sample(self, every_s: float) -> None:
        me = psutil.Process()
        samples = 0
        while not self._stop.wait(every_s):
            # A proportional set costs the kernel a walk of the process's pages (~9 ms for 800 MB,
            # charged to this process's CPU), a resident set nothing: PSS is read every 2 s only.
            with_pss = samples % round(_PSS_EVERY_S / every_s) == 0
            samples += 1
            total = total_pss = 0
            for process in (me, *me.children(recursive=True)):
                with contextlib.suppress(psutil.Error):  # ended between the listing and the reading
                    if with_pss:
                        memory = process.memory_full_info()
                        total, total_pss = total + memory.rss, total_pss + memory.pss
                    else:
                        total += process.memory_info().rss
                    if process is not me:
                        times = process.cpu_times()
                        self.cpu_seconds[process.pid] = times.user + times.system
            self.peak_bytes = max(self.peak_bytes, total)
            self.peak_pss_bytes = max(self.peak_pss_bytes, total_pss)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_peak_bytes() -> int:
    """This process's peak resident set since it started its program: the kernel's high-water mark,
    ``VmHWM``. Not ``ru_maxrss``, which Linux carries over from the parent through fork and exec: a
    child of a large bench process would report the parent's peak as its own."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # in kB
    except OSError:  # not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


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
    result["peak_rss_mb"] = max(descendants.peak_bytes, own_peak_bytes()) / 1024 / 1024
    result["peak_pss_mb"] = descendants.peak_pss_bytes / 1024 / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    _main(*sys.argv[1:])
