"""Retrying: how every caller of a source waits out an outage (the drain, the Kafka bridge)."""

from __future__ import annotations

import threading

import pytest

from logistics.errors import RetriesExhausted, SourceError, SourceUnavailable
from pipeline.sources.base import Backoff, Retrying


class Flaky:
    """Unavailable for the first ``failures`` calls, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise SourceUnavailable("broker at 127.0.0.1:9 unreachable while reading (refused)")
        return "records"


def test_an_outage_is_reported_once_per_attempt_with_a_doubling_wait() -> None:
    statuses: list[str] = []
    waits: list[float] = []
    retrying = Retrying(backoff=Backoff(first_s=1, max_s=4), on_status=statuses.append, wait=waits.append)
    assert retrying(Flaky(failures=4)) == "records"
    assert waits == [1, 2, 4, 4]
    assert statuses[0] == "broker at 127.0.0.1:9 unreachable while reading (refused), retrying in 1 s"
    assert statuses[-1].endswith("retrying in 4 s")


def test_it_gives_up_once_the_same_call_failed_for_the_budget() -> None:
    retrying = Retrying(backoff=Backoff(first_s=0.01, max_s=0.01, give_up_after_s=0.05), on_status=lambda _: None)
    with pytest.raises(RetriesExhausted, match=r"^gave up after 0 s of retrying: broker at 127.0.0.1:9 unreachable"):
        retrying(Flaky(failures=10**6))


def test_a_stop_ends_the_waiting_and_other_errors_are_not_retried() -> None:
    stop = threading.Event()
    stop.set()
    flaky = Flaky(failures=5)
    with pytest.raises(SourceUnavailable):
        Retrying(on_status=lambda _: None, wait=stop.wait)(flaky)
    assert flaky.calls == 1

    def missing_topic() -> None:
        raise SourceError("broker at 127.0.0.1:9 has no topic t")

    with pytest.raises(SourceError):
        Retrying(on_status=lambda _: pytest.fail("not a retry"))(missing_topic)
