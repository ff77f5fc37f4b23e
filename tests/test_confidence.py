"""A point's confidence: the ROC area and the patch geometry on known answers, and on the real
validation faces the shipped model's confidence flags hidden points and tracks error."""

import numpy as np
import pytest

from helpers.config import IbugConfig
from helpers.data.ibug_prep import prepare
from helpers.inference.predict import Landmarker
from helpers.reports import confidence


def test_the_roc_area_is_the_chance_a_positive_outranks_a_negative():
    positive = np.array([1, 1, 0, 0, 0], bool)
    assert confidence.roc_auc(np.array([0.9, 0.8, 0.1, 0.2, 0.3]), positive) == 1.0
    assert confidence.roc_auc(np.array([0.1, 0.2, 0.9, 0.8, 0.7]), positive) == 0.0
    assert confidence.roc_auc(np.array([0.5, 0.2, 0.5, 0.1, 0.3]), positive) == pytest.approx(
        (2.5 + 1) / 6  # 0.5 beats 2 negatives and ties 1; 0.2 beats 1 of the 3
    )
    with pytest.raises(ValueError, match="positives and negatives"):
        confidence.roc_auc(np.ones(3), np.ones(3, bool))


def test_a_point_is_covered_when_its_pixel_lies_under_the_patch():
    points = np.array([[[2.0, 3.0], [4.0, 3.0], [2.0, 5.6], [1.4, 3.0]]])
    box = np.array([[3, 2, 2, 2]])  # top 3, left 2, 2 tall, 2 wide: pixels x 2-3, y 3-4
    assert confidence.covered(points, box).tolist() == [[True, False, False, False]]


def test_the_error_falls_as_the_confidence_rises_and_a_hidden_point_loses_confidence(data_root):
    landmarker = Landmarker.load(runtime="torch")
    data = prepare(IbugConfig(crop_size=landmarker.size), max_train_faces=1)
    record = confidence.measure(landmarker, data, rounds=1)
    assert record["points"] == 221 * 68 and record["covered_points"] > 500
    assert record["occlusion_auc"] > 0.65  # 0.5 would be a confidence blind to the patch
    assert record["spearman_confidence_error"] < -0.2
    assert record["mean_confidence_covered"] < record["mean_confidence_uncovered"]
    errors = [row["mean_error"] for row in record["by_confidence"]]
    assert (
        errors[-1] < errors[0] and abs(sum(r["share"] for r in record["by_confidence"]) - 1) < 1e-3
    )
