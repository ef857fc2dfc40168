"""bench-instructions: what an event costs in instructions, a figure machine load cannot move.

    .venv/bin/python -m benchmarks.bench_instructions [--events 20000] [--skip-before]

CPU time on these shared machines moves ±25% between runs of the same code at the same load
average (docs/benchmarks.md), so two runs' CPU figures are compared only within one run of
``bench-pipeline``. The instructions a run executes do not move: valgrind's cachegrind counts
them (every thread's, the warehouse's included), whatever else the machine is doing.

Each contender of ``bench-pipeline`` (the floor; the loop with the functions now, compiled and as
Python; the loop with the functions before, as Python) runs under cachegrind twice: over the
first ``--events`` records of the simulator's feed, and over the first ``2 x --events``. The
difference, over the records between, is its instructions per event, start-up (imports, schema
compiles, creating the warehouse) cancelled out. The ratio to the floor's is the per-event
target's own measure: < 20 µs where the floor cost 5.2 µs, so < 3.85x the floor
(``TARGET_FLOOR_US``).

An instruction is not a unit of time: a cache miss costs many and is counted once. The CPU
figures of ``bench-pipeline`` stay the target's measure; this one says whether code did less work.
Needs ``valgrind`` (Debian: ``apt-get install valgrind``); runs two valgrinds at a time,
seven to eight minutes at the default size.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks._child import ROOT, child_environment
from benchmarks.bench_pipeline import AS_PYTHON, COMPILED, TARGET_FLOOR_US, compiled_or_not, make_input

_INSTRUCTIONS = re.compile(rb"I\s+refs:\s+([\d,]+)")
_LABELS = {
    "floor": "floor: orjson parse + fastavro write",
    "loop-fast": f"loop, the functions now ({COMPILED})",
    f"loop-fast{AS_PYTHON}": "loop, the functions now, as Python",
    f"loop-precise{AS_PYTHON}": "loop, the functions before (baseline)",
}


def instructions(kind: str, path: Path, data_dir: Path) -> int:
    """The instructions one contender (``bench_pipeline.contender``; ``AS_PYTHON`` as in ``bench_pipeline``)
    executes over ``path``, start-up included."""
    name, native = compiled_or_not(kind)
    done = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",  # instructions only: simulating the caches would quadruple the time
            "--cachegrind-out-file=/dev/null",
            sys.executable,
            "-c",
            "import sys; from benchmarks.bench_pipeline import contender; contender(*sys.argv[1:])",
            name,
            str(path),
            str(data_dir),
        ],
        env=child_environment(native=native),
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    found = _INSTRUCTIONS.search(done.stderr)
    if found is None:
        raise RuntimeError(f"cachegrind printed no instruction count for {kind}:\n{done.stderr.decode()[-2000:]}")
    return int(found.group(1).replace(b",", b""))


def first_records(source: Path, target: Path, records: int) -> None:
    with source.open("rb") as lines, target.open("wb") as out:
        for _, line in zip(range(records), lines, strict=False):
            out.write(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="records between the two runs of each contender")
    parser.add_argument("--skip-before", action="store_true", help="leave out the loop before (the longest runs)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("bench-instructions needs valgrind (Debian: apt-get install valgrind)")

    kinds = ["floor", "loop-fast", f"loop-fast{AS_PYTHON}"]
    if not args.skip_before:
        kinds.append(f"loop-precise{AS_PYTHON}")
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        root = Path(tmp)
        longer, shorter = root / "longer.jsonl", root / "shorter.jsonl"
        between = make_input(2 * args.events, longer) - args.events  # a record a line
        first_records(longer, shorter, args.events)
        runs = [(kind, path) for kind in kinds for path in (shorter, longer)]
        # Two at a time, one per core: a count does not depend on what runs beside it.
        with ThreadPoolExecutor(max_workers=2) as pool:
            counted = list(pool.map(lambda run: instructions(run[0], run[1], root / f"{run[0]}-{run[1].stem}"), runs))
    per_event = {kind: (counted[2 * index + 1] - counted[2 * index]) / between for index, kind in enumerate(kinds)}

    print(f"instructions per event (cachegrind; records {args.events:,} to {args.events + between:,} of the feed):")
    floor = per_event["floor"]
    for kind in kinds:
        print(f"  {_LABELS[kind]:<40}{per_event[kind]:>12,.0f}  ({per_event[kind] / floor:.2f}x the floor)")
    print(
        f"the functions now: {per_event['loop-fast'] / floor:.2f}x the floor's instructions "
        f"(the CPU target, < 20 µs at a {TARGET_FLOOR_US} µs floor: < {20 / TARGET_FLOOR_US:.2f}x)"
    )
    compiled = per_event["loop-fast"] / per_event[f"loop-fast{AS_PYTHON}"]
    print(f"loop now, {COMPILED} / as Python, instructions per event = {compiled:.3f}")
    if f"loop-precise{AS_PYTHON}" in per_event:
        before = per_event[f"loop-precise{AS_PYTHON}"] / per_event["loop-fast"]
        print(f"loop now / loop before, instructions per event = 1 / {before:.2f}")


if __name__ == "__main__":
    main()
