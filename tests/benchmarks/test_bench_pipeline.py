"""The bench's own plumbing: how the loop split over the cores cuts the input."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_pipeline import loop_lines


@pytest.mark.parametrize("parts", [1, 2, 3, 7])
@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"one line, no line end",
        b'{"a": 1}\n',
        b"".join(b'{"event": %d, "pad": "%s"}\n' % (n, b"x" * (n % 37)) for n in range(500)),
        b"a\nbb\n\nccc\r\ndddd",  # a blank line, a CRLF, no line end at the end
    ],
)
def test_the_parts_hold_every_line_once(tmp_path: Path, text: bytes, parts: int) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(text)

    cut = [list(loop_lines(path, part=part, parts=parts)) for part in range(parts)]

    assert [line for lines in cut for line in lines] == list(loop_lines(path))  # each line once, in order
    if text.count(b"\n") >= 10 * parts:  # many lines: about equal parts
        assert max(len(lines) for lines in cut) < 2 * text.count(b"\n") / parts
