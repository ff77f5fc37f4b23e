"""The predict command on folders and lists: stable names, reruns that skip what is done,
shards that cover a folder once, and runs killed or sharing a folder that lose nothing."""

import json
import os
import signal
import subprocess
import sys
import time
from io import StringIO

import pytest
from factories import tiny_model_file
from PIL import Image
from skimage import data

from helpers.config import REPO_ROOT
from helpers.inference import folders, predict


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return tiny_model_file(tmp_path_factory.mktemp("m"))


def _album(root, names):
    """Small photos of a face at the given paths under root (each a little different)."""
    face = Image.fromarray(data.astronaut()).resize((200, 200))
    for i, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        face.rotate(i % 7).save(path)
    return root


def _run(model_path, out, *args):
    return predict.main([*map(str, args), "--out", str(out), "--model", str(model_path)])


def _names(out):
    return [r["name"] for r in json.loads((out / "manifest.json").read_text())["photos"]]


def test_a_folder_is_searched_by_image_type_and_its_tree_kept(model_path, tmp_path):
    album = _album(tmp_path / "album", ["a.jpg", "trip/b.png", "trip/day 2/c.JPG", "x.png"])
    (album / "trip" / "notes.txt").write_text("not a photo")
    out = tmp_path / "out"
    assert _run(model_path, out, album) == predict.EXIT_DONE
    assert sorted(_names(out)) == ["a", "trip/b", "trip/day 2/c", "x"]
    assert (out / "trip" / "day 2" / "c_face0.json").is_file()
    record = json.loads((out / "trip" / "b_face0.json").read_text())
    assert record["image"] == str(album / "trip" / "b.png")


def test_photos_come_from_a_list_file_or_standard_input(model_path, tmp_path, monkeypatch):
    album = _album(tmp_path / "album", ["a.jpg", "sub/b.jpg"])
    listed = tmp_path / "photos.txt"
    listed.write_text(f"# my photos\n{album / 'a.jpg'}\n\n{album / 'sub' / 'b.jpg'}\n")
    out = tmp_path / "out"
    assert _run(model_path, out, "--list", listed) == predict.EXIT_DONE
    assert len(_names(out)) == 2 and all(
        n.endswith(("album/a", "album/sub/b")) for n in _names(out)
    )
    monkeypatch.setattr(sys, "stdin", StringIO(f"{album / 'a.jpg'}\n"))
    assert _run(model_path, tmp_path / "out2", "--list", "-") == predict.EXIT_DONE
    assert len(_names(tmp_path / "out2")) == 1


def test_a_rerun_skips_what_is_done_and_redoes_what_changed(model_path, tmp_path, capsys):
    album = _album(tmp_path / "album", ["a.jpg", "b.jpg", "c.jpg"])
    out = tmp_path / "out"
    _run(model_path, out, album)
    capsys.readouterr()
    before = (out / "a_face0.json").stat().st_mtime_ns
    Image.fromarray(data.astronaut()).resize((210, 210)).save(album / "b.jpg")  # another photo
    assert _run(model_path, out, album) == predict.EXIT_DONE
    assert "1 done, 0 with no face, 0 failed, 2 skipped" in capsys.readouterr().out
    assert (out / "a_face0.json").stat().st_mtime_ns == before  # not written again
    other = ["--threshold", "0.2"]  # another setting: every photo again
    assert _run(model_path, out, album, *other) == predict.EXIT_DONE
    assert "3 done" in capsys.readouterr().out


def test_shards_cover_a_folder_once_between_them(model_path, tmp_path, capsys):
    album = _album(tmp_path / "album", [f"p{i:02d}.jpg" for i in range(12)])
    out = tmp_path / "out"
    shares = []
    for k in (1, 2, 3):
        assert _run(model_path, out, album, "--shard", f"{k}/3") == predict.EXIT_DONE
        shares.append(int(capsys.readouterr().out.split(" photos")[0]))
    assert sum(shares) == 12 and min(shares) > 0
    assert sorted(_names(out)) == [f"p{i:02d}" for i in range(12)]  # the manifest has all
    assert len(list(out.glob("*_face0.json"))) == 12
    with pytest.raises(ValueError, match="K/N"):
        folders.parse_shard("2of3")
    with pytest.raises(ValueError, match="between 1 and N"):
        folders.parse_shard("4/3")


def _start(model_path, out, album, *extra):
    """The predict command in its own process (and process group)."""
    command = [sys.executable, "-m", "helpers", "predict", str(album), "--out", str(out)]
    command += ["--model", str(model_path), *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        command, env=env, start_new_session=True, stdout=subprocess.PIPE, text=True
    )


def test_a_run_killed_half_way_is_finished_by_the_next_with_each_result_once(model_path, tmp_path):
    album = _album(tmp_path / "album", [f"p{i:02d}.jpg" for i in range(16)])
    out = tmp_path / "out"
    run = _start(model_path, out, album)
    deadline = time.monotonic() + 120
    while len(list(out.glob(".records/*.json"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in out.glob("*_face0.json")}
    assert 4 <= len(kept) < 16 and not (out / "manifest.json").exists()
    again = _start(model_path, out, album)
    summary = again.communicate(timeout=300)[0]
    assert again.returncode == predict.EXIT_DONE
    assert f"{16 - len(kept)} done" in summary and f"{len(kept)} skipped" in summary
    assert sorted(_names(out)) == [f"p{i:02d}" for i in range(16)]
    assert sorted(p.name for p in out.glob("*_face*.json")) == [
        f"p{i:02d}_face0.json" for i in range(16)
    ]
    for name, mtime in kept.items():  # what the killed run finished was not redone
        assert (out / name).stat().st_mtime_ns == mtime


def test_runs_sharing_a_folder_at_once_keep_each_others_records(model_path, tmp_path):
    album = _album(tmp_path / "album", [f"p{i:02d}.jpg" for i in range(12)])
    out = tmp_path / "out"
    runs = [_start(model_path, out, album, "--shard", f"{k}/2") for k in (1, 2)]
    for run in runs:
        run.communicate(timeout=300)
        assert run.returncode == predict.EXIT_DONE
    manifest = json.loads((out / "manifest.json").read_text())  # whichever ended last wrote it
    assert sorted(r["name"] for r in manifest["photos"]) == [f"p{i:02d}" for i in range(12)]
