"""The release command end to end on the real data, in its one-minute quick profile."""

import json
from dataclasses import replace

import numpy as np
import pytest

from helpers import config, kaggle, modelfile, release


@pytest.mark.parametrize("profile", ["quick", "fast-quick"])
def test_the_quick_release_writes_results_figures_kaggle_and_a_verified_model(
    data_root, tmp_path, monkeypatch, profile
):
    monkeypatch.setenv("FKD_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("FKD_CACHE_DIR", str(tmp_path / "cache"))
    cfg = replace(config.RELEASES[profile], epochs=1, max_train_faces=16)
    results = release.release(cfg, profile)
    saved = json.loads((tmp_path / "results" / f"{cfg.label}.json").read_text())
    assert saved["val_nme"] == results["val_nme"] > 0 and saved["profile"] == profile
    assert set(saved["val_nme_by_subset"]) == {"afw", "helen", "lfpw"}
    # the model shipped before is scored at its own crop size (128 px), not the recipe's 64
    assert saved["shipped_val_nme"] < 0.06
    assert set(saved["val_nme_per_face"]) >= {"Part 3 regression", cfg.label}
    assert all(len(v) == 221 for v in saved["val_nme_per_face"].values())
    card = json.loads((tmp_path / "models" / cfg.model_file).with_suffix(".json").read_text())
    assert card["compared_on_the_same_faces"]["Part 3 regression"]["val_nme"] < 0.06
    assert (tmp_path / "figures" / f"{cfg.label}_ced.png").stat().st_size > 1000
    points = kaggle.read_submission(tmp_path / "results" / f"kaggle_submission_{cfg.label}.csv")
    assert points.shape == (358, 68, 2) and np.isfinite(points).all()
    model, settings = modelfile.load_landmarker(tmp_path / "models" / cfg.model_file)
    assert settings.architecture == saved["architecture"] and settings.crop_size == cfg.crop_size
    assert (tmp_path / "models" / cfg.model_file).with_suffix(".onnx").is_file()  # exported
    assert list(tmp_path.glob("cache/release_*.pt"))  # the checkpoint a rerun resumes from
    text = release.summary(saved)  # what notebook 5 prints of a release
    assert f"validation NME {100 * saved['val_nme']:.2f}%" in text
    assert saved["shipped_before"]["file"] in text and len(text.splitlines()) == 8


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
        release.release(replace(refine, width=4), "fast-refine")
