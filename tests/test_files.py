"""Atomic writes: a reader sees the old file or the new one, and a failed write leaves no trace."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers.files import atomic_write, sha256_of


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = atomic_write(tmp_path / "card.json", "old")

    def fail(tmp: Path) -> None:
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(path, fail)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.json"]


def test_the_writer_gets_a_temporary_name_with_the_suffix_savers_choose_the_format_by(
    tmp_path: Path,
) -> None:
    seen: list[Path] = []
    atomic_write(
        tmp_path / "sub" / "face.png", lambda tmp: (seen.append(tmp), tmp.write_bytes(b"x"))
    )
    assert seen[0].suffix == ".png" and seen[0].parent == tmp_path / "sub"
    assert (tmp_path / "sub" / "face.png").read_bytes() == b"x" and not seen[0].exists()


def test_writers_at_once_never_mix_their_contents(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    texts = [str(i) * 100_000 for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda text: atomic_write(path, text), texts * 4))
    assert path.read_text() in texts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_sha256_of_reads_the_file_in_chunks_and_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 10_000  # 2.5 MB: more than one chunk
    path = atomic_write(tmp_path / "blob.bin", data)
    assert sha256_of(path) == hashlib.sha256(data).hexdigest()
