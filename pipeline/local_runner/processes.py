"""Both cores on one machine: how many worker processes Beam's local runner gets for a bounded run.

The local runner runs a pipeline in its own process by default, on one core. Its
``multi_processing`` mode starts SDK worker processes and splits each stage's input between
them: the reading and checking of byte ranges, and the dedupe shards' writers. Starting a
worker costs a couple of CPU-seconds (Python, Beam and the contracts imported again), so a small
input stays in-process; from ``pipeline.local_processes_from_mb`` of input on, one worker per
core (docs/benchmarks.md has the break-even). The one-writer rule still holds: the load is one
element, run by one worker, after every writer is done.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from logistics.settings import Settings

_RANGES_PER_PROCESS = 4  # ranges differ in how many records they hold: a few each evens the load
_MIN_RANGE_BYTES = 4 * 1024 * 1024


def worker_processes(settings: Settings, *, input_bytes: int) -> int:
    """1 (in-process) or the number of worker processes for a bounded local run over ``input_bytes``."""
    configured = settings.pipeline.local_processes
    if configured is not None:
        return configured
    if input_bytes < settings.pipeline.local_processes_from_mb * 1024 * 1024:
        return 1
    return max(1, len(os.sched_getaffinity(0)))


def runner_args(processes: int, pipeline_args: Sequence[str]) -> list[str]:
    """``pipeline_args`` plus the local runner's multi-process options (unless they name their own)."""
    if processes <= 1 or any(arg.startswith("--direct_") for arg in pipeline_args):
        return list(pipeline_args)
    return [*pipeline_args, "--direct_running_mode=multi_processing", f"--direct_num_workers={processes}"]


def range_bytes(input_bytes: int, *, processes: int, largest: int) -> int:
    """Byte ranges small enough that every worker gets several, at most ``largest``."""
    if processes <= 1:
        return largest
    return max(_MIN_RANGE_BYTES, min(largest, input_bytes // (processes * _RANGES_PER_PROCESS) + 1))
