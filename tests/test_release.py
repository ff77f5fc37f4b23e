"""The release command end to end on the real data, in its one-minute quick profile."""

import json
from dataclasses import replace

import numpy as np

from helpers import config, kaggle, modelfile, release


def test_the_quick_release_writes_results_figures_kaggle_and_a_verified_model(
    data_root, tmp_path, monkeypatch
):
    monkeypatch.setenv("FKD_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("FKD_CACHE_DIR", str(tmp_path / "cache"))
    cfg = replace(config.RELEASES["quick"], epochs=1, max_train_faces=16)
    results = release.release(cfg, "quick")
    saved = json.loads((tmp_path / "results" / "release.json").read_text())
    assert saved["val_nme"] == results["val_nme"] > 0 and saved["profile"] == "quick"
    assert set(saved["val_nme_by_subset"]) == {"afw", "helen", "lfpw"}
    assert (tmp_path / "figures" / "release_ced.png").stat().st_size > 1000
    points = kaggle.read_submission(tmp_path / "results" / "kaggle_submission_release.csv")
    assert points.shape == (358, 68, 2) and np.isfinite(points).all()
    model, settings = modelfile.load_landmarker(tmp_path / "models" / "landmarks68.pt")
    assert settings.architecture == saved["architecture"] and settings.crop_size == 64
    assert list(tmp_path.glob("cache/release_*.pt"))  # the checkpoint a rerun resumes from
