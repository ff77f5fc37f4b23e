"""Photos by the thousand for the predict command: gathered from folders, lists and standard
input, each given a stable output name, shared among shards, skipped when already done, and
recorded so that no run loses another's results.

Each photo's record (its status, files, the photo's SHA-256 and the model's) is a file of its
own under OUT/.records, written when the photo is done, so a run killed half-way keeps what it
finished and runs that share OUT, at once or one after another, each add their own records.
manifest.json is rebuilt from all of them at the end of every run.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..files import atomic_write

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
RECORDS = ".records"


@dataclass(frozen=True)
class Photo:
    """One photo to process: its path as given and the name its results are written under
    (relative to OUT, without `_face<i>.<ext>`)."""

    path: Path
    name: str


def _in_folder(folder: Path) -> list[tuple[Path, str]]:
    """A folder's image files, recursively and sorted, each named by its path in the folder."""
    found = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    return [(p, p.relative_to(folder).with_suffix("").as_posix()) for p in found]


def _listed(lines: Iterable[str]) -> list[tuple[Path, str]]:
    """Photos listed one per line (blank lines and # comments skipped), each named by its path
    as listed, so photos from several folders keep their folders."""
    photos = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            path = Path(line)
            parts = [part for part in path.with_suffix("").parts if part not in ("..", ".")]
            photos.append((path, "/".join(parts[1:] if path.is_absolute() else parts)))
    return photos


def gather(paths: Sequence[Path], list_file: Path | None = None) -> list[Photo]:
    """Every photo the arguments name: files (named by their stem), folders (searched
    recursively by image type) and a list file ('-': standard input). A name that two photos
    would share gets -2, -3... in the order given, the same order in every shard."""
    found: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            inside = _in_folder(path)
            if not inside:
                raise ValueError(f"{path}: a folder with no photos ({', '.join(IMAGE_SUFFIXES)})")
            found += inside
        else:
            found.append((path, path.stem))
    if list_file is not None:
        text = sys.stdin.read() if str(list_file) == "-" else Path(list_file).read_text()
        found += _listed(text.splitlines())
    taken: set[str] = set()
    photos = []
    for path, name in found:
        unique, count = name, 1
        while unique in taken:
            count += 1
            unique = f"{name}-{count}"
        taken.add(unique)
        photos.append(Photo(path, unique))
    return photos


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' as (K, N), 1 <= K <= N."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N, for example 2/4, not {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard {text}: K must be between 1 and N")
    return k, n


def in_shard(photo: Photo, k: int, n: int) -> bool:
    """Whether a photo falls to shard K of N: by a hash of its name, so the shares stay the
    same in every process, and N processes cover every photo once between them."""
    digest = int(hashlib.sha256(photo.name.encode()).hexdigest()[:12], 16)
    return digest % n == k - 1


def record_path(out: Path, name: str) -> Path:
    return out / RECORDS / f"{name}.json"


def read_record(out: Path, name: str) -> dict | None:
    """The record a run wrote for this name, or None."""
    path = record_path(out, name)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def finished(record: dict | None, out: Path, photo_sha256: str, model: dict) -> bool:
    """Whether a record says this very photo was done by this very model, files and all."""
    if record is None or record.get("status") not in ("done", "no face"):
        return False
    same = record.get("photo_sha256") == photo_sha256 and record.get("model") == model
    return same and all((out / name).is_file() for name in record.get("files", []))


def write_record(out: Path, record: dict) -> None:
    atomic_write(record_path(out, record["name"]), json.dumps(record, indent=1))


def all_records(out: Path) -> list[dict]:
    """Every photo's record in OUT, whichever run wrote it, sorted by name."""
    folder = out / RECORDS
    records = []
    for path in sorted(folder.rglob("*.json")) if folder.is_dir() else []:
        try:
            records.append(json.loads(path.read_text()))
        except ValueError:  # one being replaced this moment: the next manifest has it
            continue
    return sorted(records, key=lambda r: r["name"])


def write_manifest(out: Path, header: dict, first: Sequence[str]) -> dict:
    """manifest.json from every record in OUT: this run's photos first, in its order, then
    any others (other shards or runs), by name. Returns what it wrote."""
    records = {r["name"]: r for r in all_records(out)}
    ordered = [records.pop(name) for name in first if name in records]
    manifest = {**header, "photos": ordered + list(records.values())}
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1))
    return manifest
