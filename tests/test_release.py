"""The release command end to end on the real data, in its one-minute quick profile."""

import json
from dataclasses import replace

import numpy as np
import pytest

from helpers import config
from helpers.data import kaggle
from helpers.inference import modelfile
from helpers.training import release

# A model already in models/, better mirrored (0.1%) and worse without the mirror (1000%): the
# accurate model runs mirrored, so it must be kept; the fast one runs without, so it is beaten.
PLACED = {"val_nme": 0.001, "val_nme_without_mirrored_prediction": 10.0, "sha256": None}


@pytest.mark.parametrize("profile, shipped", [("quick", False), ("fast-quick", True)])
def test_the_quick_release_writes_results_figures_kaggle_and_ships_only_a_better_model(
    data_root, tmp_path, monkeypatch, capsys, profile, shipped
):
    monkeypatch.setenv("FKD_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("FKD_CACHE_DIR", str(tmp_path / "cache"))
    cfg = replace(config.RELEASES[profile], epochs=1, max_train_faces=16)
    target = tmp_path / "models" / cfg.model_file
    target.parent.mkdir()
    target.write_bytes(b"the model shipped before")
    modelfile.card_path(target).write_text(json.dumps(PLACED))
    placed = target.read_bytes(), modelfile.card_path(target).read_bytes()
    results = release.release(cfg, profile)
    saved = json.loads((tmp_path / "results" / f"{cfg.label}.json").read_text())
    assert saved["val_nme"] == results["val_nme"] and saved["profile"] == profile
    per_face = saved["val_nme_per_face"][cfg.label]
    assert saved["val_nme"] == pytest.approx(np.mean(per_face), abs=1e-5)
    assert set(saved["val_nme_by_subset"]) == {"afw", "helen", "lfpw"}
    # the model shipped before is scored at its own crop size (128 px), not the recipe's 64
    assert saved["shipped_val_nme"] < 0.06
    assert set(saved["val_nme_per_face"]) >= {"Part 3 regression", cfg.label}
    assert all(len(v) == 221 for v in saved["val_nme_per_face"].values())
    assert (tmp_path / "figures" / f"{cfg.label}_ced.png").stat().st_size > 1000
    points = kaggle.read_submission(tmp_path / "results" / f"kaggle_submission_{cfg.label}.csv")
    assert points.shape == (358, 68, 2) and np.isfinite(points).all()
    assert list(tmp_path.glob("cache/release_*.pt"))  # the checkpoint a rerun resumes from
    text = release.summary(saved)  # what notebook 5 prints of a release
    assert f"validation NME {100 * saved['val_nme']:.2f}%" in text
    assert saved["shipped_before"]["file"] in text and len(text.splitlines()) == 8
    assert saved["shipped"] is shipped
    out = capsys.readouterr().out
    if not shipped:  # file and card untouched, and the command says so
        assert (target.read_bytes(), modelfile.card_path(target).read_bytes()) == placed
        assert "kept: the model there scores as well or better (val_nme)" in out
        assert not target.with_suffix(".onnx").exists()
        return
    card = json.loads(modelfile.card_path(target).read_text())
    assert card["shipped_by"] == "val_nme_without_mirrored_prediction"
    assert card["compared_on_the_same_faces"]["Part 3 regression"]["val_nme"] < 0.06
    model, settings = modelfile.load_landmarker(target)
    assert settings.architecture == saved["architecture"] and settings.crop_size == cfg.crop_size
    assert target.with_suffix(".onnx").is_file()  # exported


def test_a_refine_run_trains_on_from_the_shipped_weights_end_to_end(
    data_root, tmp_path, monkeypatch
):
    monkeypatch.setenv("FKD_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("FKD_CACHE_DIR", str(tmp_path / "cache"))
    first = replace(config.RELEASES["fast-quick"], epochs=1, max_train_faces=16)
    release.release(first, "fast-quick")
    shipped = tmp_path / "models" / first.model_file  # an absolute model_file: this one
    refine = replace(first, from_shipped=True, model_file=str(shipped), label="fast_refine")
    results = release.release(refine, "fast-refine")
    assert results["settings"]["from_shipped"] and results["profile"] == "fast-refine"
    assert (tmp_path / "results" / "fast_refine.json").is_file()
    assert len(list(tmp_path.glob("cache/release_*.pt"))) == 2  # its own checkpoint
    with pytest.raises(RuntimeError, match="size mismatch"):  # another network: not these
        release.release(replace(refine, network={**refine.network, "width": 4}), "fast-refine")
