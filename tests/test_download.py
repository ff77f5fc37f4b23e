"""The download command against archives built here and served locally (never the internet)."""

import functools
import hashlib
import http.server
import io
import json
import shutil
import tarfile
import threading
import zipfile

import pytest

from helpers.data import download
from helpers.data.download import DownloadError


def make_zip(path, entries: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def server(tmp_path):
    """An HTTP server on localhost serving tmp_path/www; yields its base URL."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_downloads_verifies_and_unpacks_over_http(server, tmp_path):
    www, base = server
    archive = make_zip(www / "imm_face_db.zip", {"01-1m.asf": b"asf", "01-1m.jpg": b"jpg"})
    root = tmp_path / "data"
    dest = download.download("imm", root, url=f"{base}/imm_face_db.zip", sha256=sha(archive))
    assert dest == root / "imm_face_db"
    assert (dest / "01-1m.asf").read_bytes() == b"asf"
    # no temp files left behind; the lock records what was fetched
    assert sorted(p.name for p in root.iterdir()) == [download.LOCK_NAME, "imm_face_db"]


def test_nested_archive_layout_from_file_url(tmp_path):
    archive = make_zip(
        tmp_path / "ibug.zip",
        {"ibug_300W_large_face_landmark_dataset/labels_ibug_300W_train.xml": b"<x/>"},
    )
    dest = download.download("ibug", tmp_path / "data", url=archive.as_uri(), sha256=sha(archive))
    assert (dest / "labels_ibug_300W_train.xml").exists()


def test_checksum_mismatch_is_refused(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"01-1m.asf": b"asf"})
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download.download("imm", tmp_path / "data", url=archive.as_uri(), sha256="0" * 64)
    assert not (tmp_path / "data" / "imm_face_db").exists()


def test_zip_path_traversal_is_refused(tmp_path):
    archive = make_zip(tmp_path / "evil.zip", {"01-1m.asf": b"ok", "../../evil.txt": b"x"})
    with pytest.raises(DownloadError, match="escape"):
        download.download("imm", tmp_path / "data", url=archive.as_uri(), sha256=sha(archive))
    assert not list(tmp_path.rglob("evil.txt"))


def test_absolute_tar_member_and_links_are_refused(tmp_path):
    for name, kind in [("/tmp/abs.txt", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)]:
        archive = tmp_path / "evil.tar.gz"
        with tarfile.open(archive, "w:gz") as tf:
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.size = kind, "/etc/passwd", 0
            tf.addfile(info, io.BytesIO(b""))
        with pytest.raises(DownloadError):
            download.safe_extract(archive, tmp_path / "out")


def test_wrong_dataset_is_refused(tmp_path):
    archive = make_zip(tmp_path / "other.zip", {"readme.txt": b"hello"})
    with pytest.raises(DownloadError, match="holds no 01-1m.asf"):
        download.download("imm", tmp_path / "data", url=archive.as_uri(), sha256=sha(archive))


def test_command_line_reports_errors(tmp_path, capsys):
    archive = make_zip(tmp_path / "a.zip", {"01-1m.asf": b"asf"})
    args = ["imm", "--root", str(tmp_path / "d"), "--url", archive.as_uri(), "--sha256", "1" * 64]
    assert download.main(args) == 1
    assert "mismatch" in capsys.readouterr().err
    assert not (tmp_path / "d" / download.LOCK_NAME).exists()  # nothing recorded of a refusal


def test_with_no_hash_known_the_first_download_is_recorded_and_later_ones_must_match(
    tmp_path, capsys
):
    first = make_zip(tmp_path / "a.zip", {"01-1m.asf": b"asf"})
    root = tmp_path / "data"
    args = ["imm", "--root", str(root), "--url", first.as_uri()]
    assert download.main(args) == 0
    out = capsys.readouterr().out
    assert "not verified" in out and "trust on first use" in out and sha(first) in out
    lock = json.loads((root / download.LOCK_NAME).read_text())["imm"]
    assert lock["archive_sha256"] == sha(first) and lock["files"] == 1
    shutil.rmtree(root / "imm_face_db")
    assert download.main(args) == 0  # the same archive again: verified against the record
    assert f"verified against the hash {download.LOCK_NAME} recorded on" in capsys.readouterr().out
    shutil.rmtree(root / "imm_face_db")
    changed = make_zip(tmp_path / "b.zip", {"01-1m.asf": b"another asf"})
    assert download.main(["imm", "--root", str(root), "--url", changed.as_uri()]) == 1
    err = capsys.readouterr().err
    assert "mismatch" in err and download.LOCK_NAME in err and sha(first) in err
    assert not (root / "imm_face_db").exists()


def test_a_dataset_present_is_checked_against_the_lock_on_every_run(tmp_path, capsys):
    archive = make_zip(tmp_path / "a.zip", {"01-1m.asf": b"asf", "01-1m.jpg": b"jpg"})
    root = tmp_path / "data"
    download.download("imm", root, url=archive.as_uri(), sha256=sha(archive))
    assert "verified against --sha256" in capsys.readouterr().out
    download.download("imm", root)  # present: no download, its files checked
    assert f"its 2 files verified against {download.LOCK_NAME}" in capsys.readouterr().out
    (root / "imm_face_db" / "01-1m.jpg").write_bytes(b"changed")
    with pytest.raises(DownloadError, match="differ from those recorded"):
        download.download("imm", root)
    (root / download.LOCK_NAME).unlink()  # a copy this command did not download
    download.download("imm", root)
    assert "not verified (no record in" in capsys.readouterr().out


@pytest.mark.parametrize("url", ["http://no-such-host.invalid/imm.zip", "http://127.0.0.1:9/x.zip"])
def test_offline_the_error_names_the_dataset_the_url_and_fkd_data_dir(tmp_path, capsys, url):
    code = download.main(["imm", "--root", str(tmp_path), "--url", url])
    err = capsys.readouterr().err
    assert code == 1
    assert "imm: could not download" in err and url in err
    assert "FKD_DATA_DIR" in err and "imm_face_db/" in err and "file://" in err
    assert list(tmp_path.iterdir()) == []  # nothing half-downloaded is left behind
