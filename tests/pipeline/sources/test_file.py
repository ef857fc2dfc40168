"""The batched file source: byte ranges read every line exactly once, whatever the split."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.sources.file import ByteRange, batched, byte_ranges, read_range


@pytest.mark.parametrize("range_bytes", [1, 7, 10, 11, 64, 10_000])
def test_ranges_cover_each_line_once(tmp_path: Path, range_bytes: int) -> None:
    lines = [f'{{"n": {n}, "pad": "{"x" * (n % 13)}"}}'.encode() for n in range(50)]
    # Blank and CRLF lines on the way: blanks are not records, line ends are not content.
    body = b"\n".join(lines[:20]) + b"\n\n  \n" + b"\r\n".join(lines[20:]) + b"\n"
    path = tmp_path / "in.jsonl"
    path.write_bytes(body)

    ranges = byte_ranges(str(path), len(body), range_bytes=range_bytes)
    read = [line for part in ranges for line in read_range(part)]

    assert read == lines
    assert len(ranges) == (1 if range_bytes >= len(body) else -(-len(body) // range_bytes))


def test_a_compressed_file_is_one_range(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n{"a": 2}\n'))
    assert byte_ranges(str(path), 10**9, range_bytes=4) == [ByteRange(str(path))]
    assert list(read_range(ByteRange(str(path)))) == [b'{"a": 1}', b'{"a": 2}']


def test_batched_keeps_order_and_the_short_tail() -> None:
    assert list(batched(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
