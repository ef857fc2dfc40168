"""The cycle collector in a local run's processes, set once for a flood of short-lived events.

Python's full collections walk every object the process holds, and a local run holds many for
its whole length (Beam, pyarrow, the contracts, the job graph). Over a bounded run of 390k
events in one process the collector took ~8% of the CPU, most of it in full collections
re-walking those (docs/benchmarks.md). So once a run's process is set up:

- what it holds by then is frozen (``gc.freeze``): still freed by reference counting, never
  walked again;
- the youngest generation is collected every 10,000 net allocations instead of 700: an event's
  dicts and lists mostly die by reference counting before a collection would look at them, so
  fewer survive to be walked again in the older generations.

And once a worker has written a shard, it hands back to the system the memory that shard used
(:func:`return_freed_memory`): otherwise the allocators keep it for reuse, and a worker done
with its shards holds it while another runs the load, the run's last step (docs/benchmarks.md).
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable

import pyarrow as pa

YOUNG_THRESHOLD = 10_000

_tuned = False


def tune_collector() -> None:
    """Freeze what the process holds now and widen the youngest generation; once per process
    (a later call would freeze the run's own objects)."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on a C library without it."""
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
        return trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def return_freed_memory() -> None:
    """Collect, then have Arrow's memory pool and the C allocator return the pages they keep
    free for reuse (``malloc_trim`` also releases free pages inside the heap, not only at its top)."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    if _TRIM is not None:
        _TRIM(0)
