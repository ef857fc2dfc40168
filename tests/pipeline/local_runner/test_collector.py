"""The collector is set once per run's process: what it holds then is frozen, the run's own
objects never are, and the older generations keep their thresholds."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_tune_collector_freezes_once_and_widens_only_the_youngest_generation() -> None:
    # In a child: freezing is process-wide, and this test process must keep its own collector.
    script = textwrap.dedent(
        """
        import gc
        from pipeline.local_runner.collector import YOUNG_THRESHOLD, tune_collector

        _, older, oldest = gc.get_threshold()
        assert gc.get_freeze_count() == 0
        tune_collector()
        frozen = gc.get_freeze_count()
        assert frozen > 0, "what the process held is frozen"
        assert gc.get_threshold() == (YOUNG_THRESHOLD, older, oldest)
        run_objects = [[i] for i in range(10_000)]
        tune_collector()  # a second DoFn's setup in the same worker
        assert gc.get_freeze_count() == frozen, "the run's own objects are never frozen"
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1, "cyclic garbage of the run is still collected"
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_return_freed_memory_gives_back_pages_freed_inside_the_heap() -> None:
    # In a child: a fresh heap. Freed blocks between blocks still in use are pages the C allocator
    # keeps (only the heap's top is returned on its own) until return_freed_memory trims them.
    script = textwrap.dedent(
        """
        import psutil
        from pipeline.local_runner.collector import return_freed_memory

        def rss_mb():
            return psutil.Process().memory_info().rss / 2**20

        blocks = [bytes(4096) for _ in range(60_000)]  # ~240 MB of heap blocks
        kept = blocks[::64]  # one in 64 stays in use, spread over the heap
        del blocks
        before = rss_mb()
        return_freed_memory()
        print(round(before - rss_mb()))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 100, f"only {done.stdout.strip()} MB returned"
