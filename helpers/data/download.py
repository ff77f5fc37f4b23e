"""Fetch the datasets from their public URLs, verify them and unpack them safely.

Usage: python -m helpers download {imm,ibug,all} [--root DIR] [--url URL] [--sha256 HEX]

An archive is verified against the SHA-256 given with --sha256, else the one pinned in SOURCES,
else the one recorded in the lock file beside the data (LOCK_NAME) when it was first downloaded;
with none of them, its hash is recorded there (trust on first use), and said so. The lock also
records a hash of the unpacked files, against which a dataset already present is checked on
every run. What was verified, and against what, is printed.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..config import data_root
from ..files import atomic_write, sha256_of
from ..progress import progress


@dataclass(frozen=True)
class Source:
    """Where a dataset comes from and what folder it must unpack to."""

    folder: str
    url: str
    sha256: str | None  # None: not known here; the lock file records it on first download
    marker: str  # a file that must exist in the unpacked folder


SOURCES: dict[str, Source] = {
    "imm": Source(
        "imm_face_db",
        "http://www2.imm.dtu.dk/~aam/datasets/imm_face_db.zip",
        None,
        "01-1m.asf",
    ),
    "ibug": Source(
        "ibug_300W_large_face_landmark_dataset",
        "https://people.eecs.berkeley.edu/~zhecao/ibug_300W_large_face_landmark_dataset.zip",
        None,
        "labels_ibug_300W_train.xml",
    ),
}


class DownloadError(RuntimeError):
    """A download that failed its checksum, its archive checks or its contents check."""


def fetch(url: str, dest: Path) -> Path:
    """Download `url` to `dest` with a progress bar."""
    with urllib.request.urlopen(url) as response, open(dest, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with progress(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))
    return dest


def _check_member(name: str, target: Path) -> None:
    """Reject archive entries that are absolute or would land outside `target`."""
    resolved = (target / name).resolve()
    if Path(name).is_absolute() or not resolved.is_relative_to(target.resolve()):
        raise DownloadError(f"Archive entry {name!r} would escape {target}; refusing to extract")


def safe_extract(archive: Path, target: Path) -> None:
    """Unpack a zip or tar archive into `target`, refusing path traversal and links."""
    target.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                _check_member(name, target)
            zf.extractall(target)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                _check_member(member.name, target)
                if not (member.isfile() or member.isdir()):
                    raise DownloadError(f"Archive entry {member.name!r} is a link or device")
            tf.extractall(target, filter="data")
    else:
        raise DownloadError(f"{archive} is neither a zip nor a tar archive")


def _find_dataset(unpacked: Path, marker: str) -> Path:
    """The folder inside `unpacked` that holds `marker` (archives nest differently)."""
    hits = sorted(unpacked.rglob(marker), key=lambda p: len(p.parts))
    if not hits:
        raise DownloadError(f"The archive holds no {marker}; is it the right dataset?")
    return hits[0].parent


def offline_help(name: str, url: str, err: Exception) -> str:
    """What to do when a dataset cannot be fetched: the URL, the error, and the two ways to
    use a copy (FKD_DATA_DIR, or --url with a file:// archive)."""
    reason = getattr(err, "reason", err)
    return (
        f"{name}: could not download {url} ({reason}). With a copy of the dataset, set "
        f"FKD_DATA_DIR to the folder that holds {SOURCES[name].folder}/ (now {data_root()}), "
        f"or run `python -m helpers download {name} --url file:///path/to/archive`."
    )


LOCK_NAME = "datasets.lock.json"  # beside the datasets, in the data root


def read_lock(root: Path) -> dict:
    """The lock file's records by dataset name ({} when there is none)."""
    path = root / LOCK_NAME
    return json.loads(path.read_text()) if path.is_file() else {}


def record(root: Path, name: str, entry: dict) -> Path:
    """Write one dataset's record into the lock file, whole or not at all."""
    text = json.dumps({**read_lock(root), name: entry}, indent=1, sort_keys=True) + "\n"
    return atomic_write(root / LOCK_NAME, text)


def tree_sha256(folder: Path) -> tuple[str, int]:
    """SHA-256 over every file's path (relative, sorted) and SHA-256, and the file count."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        digest.update(f"{path.relative_to(folder).as_posix()}\0{sha256_of(path)}\n".encode())
    return digest.hexdigest(), len(files)


def check_present(name: str, dest: Path, entry: dict | None) -> str:
    """Check a dataset already unpacked against its lock record; says what was verified."""
    if entry is None or "tree_sha256" not in entry:
        return f"{name}: present at {dest}, not verified (no record in {LOCK_NAME})"
    tree, count = tree_sha256(dest)
    if tree != entry["tree_sha256"]:
        raise DownloadError(
            f"{name}: the files at {dest} ({count}) differ from those recorded in "
            f"{LOCK_NAME} ({entry['files']}); delete the folder to download it again"
        )
    return f"{name}: present at {dest}, its {count} files verified against {LOCK_NAME}"


def expected_sha256(name: str, given: str | None, entry: dict | None) -> tuple[str | None, str]:
    """The archive's expected SHA-256 and where it comes from: --sha256, the pin in SOURCES,
    or the lock file's record of the first download; (None, "") when none is known."""
    if given:
        return given.lower(), "--sha256"
    if SOURCES[name].sha256:
        return SOURCES[name].sha256, "the hash pinned in helpers/data/download.py"
    if entry and entry.get("archive_sha256"):
        return entry["archive_sha256"], f"the hash {LOCK_NAME} recorded on {entry['recorded']}"
    return None, ""


def download(name: str, root: Path, url: str | None = None, sha256: str | None = None) -> Path:
    """Download, verify and unpack one dataset into root/<folder>; return that folder."""
    source = SOURCES[name]
    dest = root / source.folder
    entry = read_lock(root).get(name)
    if (dest / source.marker).exists():
        print(check_present(name, dest, entry))
        return dest
    root.mkdir(parents=True, exist_ok=True)
    expected, origin = expected_sha256(name, sha256, entry)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        try:
            archive = fetch(url or source.url, Path(tmp) / Path(source.url).name)
        except OSError as err:  # URLError, HTTPError and socket errors are all OSErrors
            raise DownloadError(offline_help(name, url or source.url, err)) from err
        actual = sha256_of(archive)
        if expected and actual != expected:
            raise DownloadError(
                f"{name}: SHA-256 mismatch: expected {expected} ({origin}), got {actual}"
            )
        safe_extract(archive, Path(tmp) / "unpacked")
        shutil.move(_find_dataset(Path(tmp) / "unpacked", source.marker), dest)
    tree, count = tree_sha256(dest)
    same = entry is not None and entry.get("archive_sha256") == actual
    recorded = entry["recorded"] if same else datetime.date.today().isoformat()
    lock = record(
        root,
        name,
        {"url": url or source.url, "archive_sha256": actual, "tree_sha256": tree, "files": count,
         "recorded": recorded},
    )  # fmt: skip
    if expected:
        print(f"{name}: SHA-256 {actual} verified against {origin}")
    else:
        print(
            f"{name}: no SHA-256 is known for this archive, so it is not verified: its hash "
            f"{actual} is recorded in {lock} (trust on first use), and later downloads must match"
        )
    print(f"{name}: ready at {dest} ({count} files)")
    return dest


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=[*SOURCES, "all"])
    parser.add_argument("--root", type=Path, default=None, help="data root (default FKD_DATA_DIR)")
    parser.add_argument("--url", help="override the URL (a mirror, or file:// for a local copy)")
    parser.add_argument("--sha256", help="expected SHA-256 of the archive")
    args = parser.parse_args(argv)
    names = list(SOURCES) if args.dataset == "all" else [args.dataset]
    if len(names) > 1 and (args.url or args.sha256):
        parser.error("--url and --sha256 apply to one dataset at a time")
    try:
        for name in names:
            download(name, args.root or data_root(), args.url, args.sha256)
    except (DownloadError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
