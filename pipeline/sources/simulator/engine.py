"""The run: merge every process's events in event-time order, plant the faults, yield JSON lines.

Memory is bounded by what is in flight, not by the run: one pending event per shipment still
travelling (a heap keyed by event time) plus the lines held back by faults (late, out of
order, retried). Lines are yielded one by one; :func:`write_jsonl` streams them to disk.

Faults, all drawn from the run's one seeded generator, so a seed fixes every byte
(fault: what is written -> where one pipeline run puts it):

- duplicate: the exact same line again, 1 s - 10 min of event time later -> duplicate counter
- late: the event, emitted 2-72 h after its event_time -> silver
- out_of_order: the event, emitted 1-30 min after its event_time -> silver
- malformed: a truncated prefix of the line, before the line itself -> DLQ (malformed_json)
- unknown_type: an extra event of a type the registry lacks -> DLQ (unknown_event_type)
- old_version: shipment.created as contract v1 -> silver
- camel_case: the envelope in a legacy producer's camelCase shape -> silver (normalized)
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.sources.simulator.config import SimulationConfig
from pipeline.sources.simulator.emit import (
    Clock,
    ContractCheck,
    Rng,
    envelope_line,
    event_id,
    legacy_line,
    to_seconds,
)
from pipeline.sources.simulator.journey import Event, Journeys, bookings, capacity_changes, onboarding
from pipeline.sources.simulator.network import build_network
from pipeline.sources.simulator.truth import GroundTruth

# Event types producers send that the registry does not (yet) know: they must end in the DLQ.
UNKNOWN_TYPES = ("shipment.customs_cleared", "parcel.scanned", "driver.break_started", "shipment.relabelled")

_DEFERRED, _RETRY = 0, 1  # held lines: an event emitted late (faults still apply) / a retry copy


class Simulation:
    """Iterate it for the lines; :attr:`truth` is complete once the iteration is exhausted."""

    def __init__(self, config: SimulationConfig, *, validate_first: int = 25) -> None:
        self.config = config
        self.truth = GroundTruth(seed=config.seed)
        self._validate_first = validate_first
        self._started = False
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("a Simulation streams once; build a new one (same config, same lines)")
        self._started = True
        return self._run()

    def _run(self) -> Iterator[str]:
        config, truth, faults = self.config, self.truth, self.config.faults
        rng = Rng(config.seed)
        start = to_seconds(config.start)
        network = build_network(config, rng)
        journeys = Journeys(config=config, network=network, rng=rng, truth=truth)
        check_contract = ContractCheck(validate_first=self._validate_first)
        clock = Clock()
        source = config.source_system
        getrandbits, random_ = rng.getrandbits, rng.random
        fault_counts = truth.faults
        by_version: Counter[tuple[str, int]] = Counter()

        # Pending events: (event_time, seq, event, its process). seq keeps ties in push order.
        pending: list[tuple[int, int, Event, Iterator[Event]]] = []
        held: list[tuple[int, int, int, str, int]] = []  # (release, seq, kind, line, event_time)
        seq = 0

        def push(process: Iterator[Event]) -> None:
            nonlocal seq
            event = next(process, None)
            if event is not None:
                seq += 1
                heapq.heappush(pending, (event[0], seq, event, process))

        def hold(release: int, kind: int, line: str, at: int) -> None:
            nonlocal seq
            seq += 1
            heapq.heappush(held, (release, seq, kind, line, at))

        malformed, duplicate, unknown_type = faults.malformed, faults.duplicate, faults.unknown_type

        def emit(line: str, at: int) -> tuple[str, ...]:
            """The lines to write now for one event, with the faults that happen at write time."""
            truncated, retried, stray = random_() < malformed, random_() < duplicate, random_() < unknown_type
            if not (truncated or retried or stray):
                return (line,)
            out = [line]
            if truncated:  # a cut past the event id, so every truncated line is distinct
                fault_counts["malformed"] += 1
                out.insert(0, line[: rng.between(len(line) // 2, len(line) - 1)])
            if retried:
                fault_counts["duplicate"] += 1
                hold(at + rng.between(1, 600), _RETRY, line, at)
            if stray:
                fault_counts["unknown_type"] += 1
                subject = UNKNOWN_TYPES[rng.between(0, len(UNKNOWN_TYPES))]
                out.append(
                    envelope_line(
                        eid=event_id(getrandbits(128)),
                        subject=subject,
                        version=1,
                        time_text=clock.iso(at),
                        source=source,
                        payload={"reference": f"REF-{getrandbits(32):08x}", "note": "a type the registry lacks"},
                    )
                )
            return tuple(out)

        late, out_of_order, camel_case = faults.late, faults.out_of_order, faults.camel_case
        heappop, heappush, iso, check = heapq.heappop, heapq.heappush, clock.iso, check_contract.check
        if config.onboard:
            push(onboarding(network, start))
        push(capacity_changes(network, config, rng, start))
        booking_times = bookings(config, rng, start)
        next_booking = next(booking_times, None)
        booked = 0
        records = 0

        while pending or held or next_booking is not None:
            if next_booking is not None and (not pending or next_booking <= pending[0][0]):
                booked += 1
                push(journeys.shipment(config.shipment_offset + booked, next_booking))
                next_booking = next(booking_times, None)
                continue
            if held and (not pending or held[0][0] <= pending[0][0]):
                _, _, kind, line, at = heapq.heappop(held)
                if kind == _RETRY:
                    records += 1
                    yield line
                else:
                    for out in emit(line, at):
                        records += 1
                        yield out
                continue

            at, _, (_, subject, version, payload), process = heappop(pending)
            following = next(process, None)  # the process's next event waits its turn in the heap
            if following is not None:
                seq += 1
                heappush(pending, (following[0], seq, following, process))
            check(subject, version, payload)
            by_version[subject, version] += 1
            eid = event_id(getrandbits(128))
            if random_() < camel_case:
                fault_counts["camel_case"] += 1
                line = legacy_line(eid=eid, subject=subject, version=version, seconds=at, payload=payload)
            else:
                line = envelope_line(
                    eid=eid, subject=subject, version=version, time_text=iso(at), source=source, payload=payload
                )
            draw = random_()
            if draw < late:
                fault_counts["late"] += 1
                hold(at + rng.between(2 * 3_600, 72 * 3_600), _DEFERRED, line, at)
            elif draw < late + out_of_order:
                fault_counts["out_of_order"] += 1
                hold(at + rng.between(60, 30 * 60), _DEFERRED, line, at)
            else:
                for out in emit(line, at):
                    records += 1
                    yield out

        for (subject, version), count in sorted(by_version.items()):
            truth.by_type[subject] += count
            truth.by_version[f"{subject} v{version}"] = count
        truth.records = records
        truth.events = sum(by_version.values())
        truth.shipments = booked
        truth.first_shipment = f"SHP-{config.shipment_offset + 1:04d}" if booked else None
        self._done = True


def simulate(config: SimulationConfig) -> Simulation:
    """The run for ``config`` as a stream of lines (see :class:`Simulation`)."""
    return Simulation(config)


def write_jsonl(simulation: Simulation, path: Path, *, truth_path: Path | None = None) -> GroundTruth:
    """Stream the run to ``path`` (one line per record); optionally write the truth as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", buffering=1 << 20) as out:
        batch: list[str] = []
        for line in simulation:
            batch.append(line)
            if len(batch) >= 4_096:
                out.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            out.write("\n".join(batch) + "\n")
    if truth_path is not None:
        simulation.truth.write(truth_path)
    return simulation.truth


def events_per_shipment(config: SimulationConfig, *, sample: int = 400) -> float:
    """Records per shipment for this config's behaviour, measured on a small run of the same config."""
    probe = Simulation(config.model_copy(update={"shipments": sample, "days": 1}))
    for _ in probe:
        pass
    fixed = probe.truth.by_type["facility.created"] + probe.truth.by_type["driver.created"]
    return max(1.0, (probe.truth.records - fixed) / sample)


def config_for_events(events: int, **overrides: Any) -> SimulationConfig:
    """A config whose run writes about ``events`` records (the shipment count is calibrated)."""
    base = SimulationConfig(**overrides)
    return base.model_copy(update={"shipments": max(1, round(events / events_per_shipment(base)))})


__all__ = ["Simulation", "config_for_events", "events_per_shipment", "simulate", "write_jsonl"]
