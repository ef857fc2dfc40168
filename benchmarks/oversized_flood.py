"""Oversized requests against a running API, from their own process (threads in the measuring
process would compete with it for the GIL, and what was measured would be the client).

    python -m benchmarks.oversized_flood URL MAX_QUERY_BYTES SECONDS

Three clients push 20 MB bodies (refused with 413 while being read), three send query texts twice
``MAX_QUERY_BYTES`` long (refused with QUERY_TOO_LONG before parsing). Prints the distinct refusals,
comma-separated. Used by ``bench_api`` (/health latency during the flood) and by
``tests/graphql_api/test_limits.py`` (every oversized request is refused, /health still answers).
"""

from __future__ import annotations

import socket
import sys
import threading
import time

import httpx

READ_KEY_HEADER = "X-API-Key"


def flood(url: str, *, max_query_bytes: int, seconds: float, api_key: str) -> set[str]:
    host, port = url.split("//")[1].split(":")
    stop = time.monotonic() + seconds
    refused: list[str] = []

    def oversized_bodies() -> None:
        while time.monotonic() < stop:
            with socket.create_connection((host, int(port))) as raw:
                raw.sendall(
                    b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + f"{READ_KEY_HEADER}: {api_key}\r\n".encode()
                    + b"Content-Length: 20000000\r\n\r\n"
                    + b" " * 65536
                )
                refused.append(raw.recv(4096).split(b" ", 2)[1].decode())

    def overlong_queries(seed: int) -> None:
        n = 0
        while time.monotonic() < stop:
            n += 1  # a different text each time, a body under the limit, a text over it
            text = f'{{ shipment(id: "{seed}-{n}") {{ id }} }}' + " " * (2 * max_query_bytes)
            answer = httpx.post(
                url + "/graphql", json={"query": text}, headers={READ_KEY_HEADER: api_key}, timeout=30
            ).json()
            refused.append(answer["errors"][0]["extensions"]["code"])

    threads = [threading.Thread(target=oversized_bodies) for _ in range(3)]
    threads += [threading.Thread(target=overlong_queries, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return set(refused)


if __name__ == "__main__":
    url, max_query, seconds, key = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    print(",".join(sorted(flood(url, max_query_bytes=max_query, seconds=seconds, api_key=key))))
