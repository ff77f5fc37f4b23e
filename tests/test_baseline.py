"""dlib's predictor as the benchmark's 1x row: skipped with how to install it when missing,
and timed through the same call that places its points when present."""

import numpy as np
import pytest

from helpers.inference import timing
from helpers.inference.modelfile import ModelSettings, load_landmarker, save_landmarker
from helpers.nets import models
from helpers.reports import baseline, benchmark


class FakePredictor:
    """Stands in for dlib.shape_predictor: 68 points at the box's top-left corner."""

    def __call__(self, image, rect):
        point = type("P", (), {"x": rect.left(), "y": rect.top()})
        return type("S", (), {"parts": lambda self: [point] * 68})()


def test_dlib_points_are_read_in_image_pixels_from_the_box():
    points = baseline.dlib_points(FakePredictor(), np.zeros((50, 50, 3), np.uint8), (10, 20, 5, 5))
    assert points.shape == (68, 2) and (points == [10, 20]).all()


class Clock:
    """A stand-in for the time module: its perf_counter stays put until a fake predictor moves
    it on by `step` seconds, or moves on by itself at every reading with ticking=True."""

    def __init__(self, step: float, ticking: bool = False) -> None:
        self.now, self.step, self.ticking = 0.0, step, ticking

    def perf_counter(self) -> float:
        self.now += self.step if self.ticking else 0.0
        return self.now


class TimedPredictor(FakePredictor):
    """Takes exactly 3 ms a face on the fake clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def __call__(self, image, rect):
        self.clock.now += self.clock.step
        return super().__call__(image, rect)


def test_dlib_timing_is_per_face_in_milliseconds_on_a_photo_with_several_faces(monkeypatch):
    clock = Clock(0.003)
    monkeypatch.setattr(baseline, "time", clock)
    photo = np.zeros((100, 100, 3), np.uint8)
    faces = [(photo, (0, 0, 9, 9)), (photo, (20, 20, 9, 9)), (photo, (50, 40, 30, 30))]
    assert baseline.dlib_ms_per_face(TimedPredictor(clock), faces, 2) == pytest.approx(3.0)


class SlowingPredictor(FakePredictor):
    """Takes 1 ms on the fake clock at its first call, 2 ms at its second, and so on, and
    records the image and box corner of every call."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.calls = clock, []

    def __call__(self, image, rect):
        self.calls.append((image, rect.left(), rect.top()))
        self.clock.now += 0.001 * len(self.calls)
        return super().__call__(image, rect)


def test_dlib_timing_drops_one_warm_up_pass_and_runs_on_each_faces_own_image(monkeypatch):
    clock = Clock(0.0)
    monkeypatch.setattr(baseline, "time", clock)
    first, second = np.zeros((40, 40, 3), np.uint8), np.ones((60, 60, 3), np.uint8)
    faces = [(first, (1, 2, 9, 9)), (second, (20, 30, 9, 9))]
    predictor = SlowingPredictor(clock)
    # the warm-up pass takes 1 and 2 ms, the two timed passes 3, 4, 5 and 6: median 4.5
    assert baseline.dlib_ms_per_face(predictor, faces, 2) == pytest.approx(4.5)
    assert len(predictor.calls) == 6
    for (image, left, top), (want, box) in zip(predictor.calls, faces * 3, strict=True):
        assert image is want and (left, top) == box[:2]


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
    monkeypatch.setattr(timing, "time", Clock(0.002, ticking=True))  # 2 ms between readings
    assert timers["m.pt, torch"]() == pytest.approx(2.0)
    # the same input as dlib's row: per face, in milliseconds
    assert timers["m.pt, torch, image and box to points"]() == pytest.approx(2.0)


def test_candidates_times_each_size_on_each_runtime(monkeypatch, capsys):
    monkeypatch.setattr(benchmark, "FAST_CANDIDATES", {"FastNet w4 (1, 1, 1)": (4, (1, 1, 1))})
    monkeypatch.setattr(timing, "ROUNDS", 1)
    monkeypatch.setattr(timing, "time", Clock(0.002, ticking=True))  # 2 ms between readings
    medians = benchmark.candidates()
    assert set(medians) == {
        (name, runtime)
        for name in ("shipped model", "FastNet w4 (1, 1, 1)")
        for runtime in ("torch", "onnxruntime")
    }
    assert all(v == pytest.approx(2.0) for v in medians.values())
    assert "FastNet w4 (1, 1, 1)" in capsys.readouterr().out
