"""The bench's own plumbing: how it cuts the input for the loop split over the cores."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_pipeline import split_lines


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
def test_the_parts_are_the_input_cut_at_line_ends(tmp_path: Path, text: bytes, parts: int) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(text)

    cut = [part.read_bytes() for part in split_lines(path, parts)]

    assert len(cut) == parts
    assert b"".join(cut) == text  # every line in exactly one part, in order
    cuts = [sum(len(part) for part in cut[:end]) for end in range(1, parts)]
    assert all(text[at - 1 : at] == b"\n" for at in cuts if 0 < at < len(text))  # no line split in two
    if text.count(b"\n") >= 10 * parts:  # many lines: about equal sizes
        assert max(len(part) for part in cut) < 2 * len(text) / parts
