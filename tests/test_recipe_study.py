"""The recipe study: its Pareto front, and the quick study end to end with its resume."""

import json
import math
from collections import Counter

import pytest
import torch

from helpers import config, plots
from helpers.data import ibug
from helpers.training import recipe_study
from helpers.training.recipes import student_builder, warm_start


def untimed(entries: dict) -> dict:
    """Study entries without their timing, which every run measures again."""
    timing = "ms_per_face_batch1"
    return {name: {k: v for k, v in e.items() if k != timing} for name, e in entries.items()}


def test_the_pareto_front_keeps_only_points_that_nothing_beats_on_both_axes():
    points = {"cheap": (1.0, 5.0), "good": (9.0, 3.0), "worse": (9.5, 4.0), "mid": (4.0, 4.0)}
    assert plots.pareto_front(points) == ["cheap", "mid", "good"]
    assert plots.pareto_front({"a": (1.0, 1.0), "b": (1.0, 1.0)}) == ["a", "b"]  # ties both stay


def test_the_quick_study_scores_every_candidate_and_a_rerun_keeps_them(
    data_root, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("FKD_OUTPUT_DIR", str(tmp_path))
    entries = recipe_study.study("quick")
    assert set(entries) == set(config.RECIPE_STUDIES["quick"])
    faces = ibug.load_xml(data_root / ibug.IBUG_DIR / ibug.TRAIN_XML)
    counts = Counter(ibug.subset_of(f.image_path) for f in ibug.split_by_image(faces, 0.1, 0)[1])
    for entry in entries.values():
        by_subset = entry["val_nme_by_subset"]
        assert set(by_subset) == set(counts) == {"afw", "helen", "lfpw"}
        # the mean over the 221 faces is the subsets' means weighted by their face counts
        weighted = sum(counts[s] * by_subset[s] for s in counts) / counts.total()
        assert entry["val_nme"] == pytest.approx(weighted, abs=1e-4)
        assert math.isfinite(entry["ms_per_face_batch1"]) and entry["passes"] >= 1
    saved = json.loads((tmp_path / "results" / "recipe_study.json").read_text())
    assert saved["candidates"] == json.loads(json.dumps(entries))
    assert saved["front"] and set(saved["front"]) <= set(entries)
    capsys.readouterr()
    again = recipe_study.study("quick")  # nothing trained again; only timed again
    assert capsys.readouterr().out.count("kept from") == len(entries)
    assert untimed(again) == untimed(saved["candidates"])


def test_a_study_killed_while_rerunning_one_candidate_keeps_the_others(tmp_path, monkeypatch):
    monkeypatch.setenv("FKD_OUTPUT_DIR", str(tmp_path))
    (tmp_path / "results").mkdir()
    names = list(config.RECIPE_STUDIES["quick"])
    cfg = config.RECIPE_STUDIES["quick"][names[1]]
    settings = json.loads(json.dumps(config.asdict(cfg)))
    kept = {"settings": settings, "seconds": 3.0, "hardware": config.hardware(), "val_nme": 1}
    path = tmp_path / "results" / "recipe_study.json"
    path.write_text(json.dumps({"profile": "quick", "candidates": {names[1]: kept}}))

    def first_then_killed(name, *args):
        if name != names[0]:
            raise KeyboardInterrupt
        return {"val_nme": 2}

    monkeypatch.setattr(recipe_study, "recipe_data", lambda cfg: None)
    monkeypatch.setattr(recipe_study, "run_candidate", first_then_killed)
    monkeypatch.setitem(config.RECIPE_STUDIES["quick"], names[1], config.replace(cfg, lr=0.5))
    with pytest.raises(KeyboardInterrupt):
        recipe_study.study("quick")  # the first trains, then the changed second is killed
    saved = json.loads(path.read_text())["candidates"]
    assert saved == {names[1]: kept, names[0]: {"val_nme": 2}}


def test_a_changed_recipe_or_budget_is_not_kept():
    cfg = config.RECIPE_STUDIES["quick"]["shipped recipe"]
    settings = json.loads(json.dumps(config.asdict(cfg)))
    entry = {"settings": settings, "seconds": 3.0, "hardware": config.hardware()}
    assert recipe_study.same_recipe(entry, cfg, 3.0)
    assert not recipe_study.same_recipe(entry, cfg, 4.0)
    assert not recipe_study.same_recipe(entry, config.replace(cfg, jaw_weight=2.0), 3.0)
    older = {k: v for k, v in settings.items() if k != "from_shipped"}  # saved before it existed
    assert recipe_study.same_recipe({**entry, "settings": older}, cfg, 3.0)


def test_a_study_from_another_machine_is_kept_whole_or_trained_here_whole():
    candidates = config.RECIPE_STUDIES["quick"]
    elsewhere = {
        name: {"settings": json.loads(json.dumps(config.asdict(cfg))), "seconds": 3.0,
               "hardware": "another CPU"}
        for name, cfg in candidates.items()
    }  # fmt: skip
    assert recipe_study.kept_entries(elsewhere, candidates, 3.0) == elsewhere
    first, *rest = candidates
    partial = {name: elsewhere[name] for name in rest}  # the first must train: all train here
    assert recipe_study.kept_entries(partial, candidates, 3.0) == {}
    here = {**partial, first: {**elsewhere[first], "hardware": config.hardware()}}
    assert recipe_study.kept_entries(here, candidates, 3.0) == {first: here[first]}  # mixed


@pytest.mark.parametrize("profile", ["full", "quick"])
def test_every_candidate_builds_a_network_with_maps_at_stride_4(profile):
    for cfg in config.RECIPE_STUDIES[profile].values():
        net = student_builder(cfg)().eval()
        with torch.no_grad():
            maps = net(torch.zeros(1, 3, cfg.crop_size, cfg.crop_size))
        assert maps.shape[-1] == cfg.crop_size // 4


def test_a_warm_start_begins_from_the_given_weights_and_a_wrong_network_fails_loudly():
    cfg = config.RELEASES["quick"]
    torch.manual_seed(0)
    trained = student_builder(cfg)()
    torch.manual_seed(1)
    started = warm_start(student_builder(cfg), trained)()
    for key, value in trained.state_dict().items():
        assert torch.equal(started.state_dict()[key], value)
    with pytest.raises(RuntimeError):  # another width: load_state_dict refuses the weights
        warm_start(
            student_builder(config.replace(cfg, network={**cfg.network, "width": 8})), trained
        )()


def test_the_committed_study_names_its_networks_as_the_recipes_do():
    # The committed entries spell the network out in flat fields; read as a record they are
    # the study's own candidates (on the machine that ran them).
    saved = json.loads((config.REPO_ROOT / "results" / "recipe_study.json").read_text())
    for name, cfg in config.RECIPE_STUDIES["full"].items():
        entry = {**saved["candidates"][name], "hardware": config.hardware()}
        assert recipe_study.same_recipe(entry, cfg, config.STUDY_SECONDS["full"]), name
    flat = {"architecture": "FastNet", "width": 8, "depth": 4, "stride": 4, "blocks": [1, 1, 1]}
    assert recipe_study.with_network(flat) == {
        "network": {"name": "FastNet", "width": 8, "blocks": [1, 1, 1]}
    }
