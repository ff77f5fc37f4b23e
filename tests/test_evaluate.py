"""The 300-W summary on predictions with known errors: NME, AUC@8%, failure rate @8%, by subset
and by group of points, as results files and model cards record them."""

import numpy as np
import pytest

from helpers import geometry
from helpers.data.ibug import GROUPS
from helpers.training import evaluate

# Four faces whose outer eye corners (points 36 and 45) lie 100 px apart; each prediction is
# its truth moved by a (3, 4) step times k, so every point misses by 5k px: NME 0.05k.
TRUTH = np.tile(np.random.default_rng(0).uniform(0, 100, (68, 2)), (4, 1, 1))
TRUTH[:, 36], TRUTH[:, 45] = (0, 50), (100, 50)
NME = np.array([0.01, 0.03, 0.05, 0.10])
PRED = TRUTH + (NME / 0.05)[:, None, None] * np.array([3.0, 4.0])
SUBSETS = np.array(["afw", "helen", "helen", "lfpw"])


def test_ibug_scores_of_known_errors():
    scores = evaluate.ibug_scores(PRED, TRUTH, SUBSETS)
    np.testing.assert_allclose(scores.nme, NME)
    assert scores.mean == pytest.approx(0.0475)
    assert scores.auc8 == pytest.approx((0.07 + 0.05 + 0.03 + 0) / 4 / 0.08)  # 0.46875
    assert scores.failure8 == 0.25  # one face over 8%
    assert scores.by_subset == {"afw": 0.01, "helen": 0.04, "lfpw": 0.1}
    assert scores.by_group == pytest.approx(dict.fromkeys(GROUPS, 0.0475))
    assert scores.as_dict("x_") == {
        "x_nme": 0.0475,
        "x_auc8": 0.4688,
        "x_failure8": 0.25,
        "x_nme_by_group": dict.fromkeys(GROUPS, 0.0475),
        "x_nme_by_subset": {"afw": 0.01, "helen": 0.04, "lfpw": 0.1},
    }
    assert scores.line() == "NME 4.75% | AUC@8% 0.469 | failure rate @8% 25.0%"


def test_groups_are_scored_on_their_own_points():
    pred = TRUTH.copy()
    pred[:, GROUPS["jaw"]] += (6.0, 8.0)  # only the jaw misses, by 10 px
    by_group = evaluate.ibug_scores(pred, TRUTH, SUBSETS).by_group
    assert by_group["jaw"] == pytest.approx(0.1)
    assert all(v == 0 for g, v in by_group.items() if g != "jaw")


def test_the_cumulative_error_distribution_counts_faces_at_or_under_each_threshold():
    curve = geometry.ced(NME, [0.005, 0.04, 0.08, 0.2])
    np.testing.assert_allclose(curve, [0, 0.5, 0.75, 1])


def test_mean_by_rounds_each_labels_mean_to_4_decimals_with_labels_as_sorted_strings():
    values = np.array([0.01, 0.02, 0.02, 0.5, 0.123456])
    labels = np.array([10, 10, 10, 2, 2])
    means = evaluate.mean_by(values, labels)
    assert list(means) == ["2", "10"]  # sorted as labels, not as strings
    assert means == {"2": 0.3117, "10": 0.0167}  # 0.311728 and 0.016666...


def test_scores_as_dict_round_and_prefix_with_val_by_default():
    scores = evaluate.IbugScores(
        nme=np.array([0.01, 0.02, 0.02]),  # mean 0.016666...
        auc8=0.123456,
        failure8=1 / 3,
        by_group={"jaw": 1 / 30, "nose": 0.0123456},
        by_subset={"helen": 0.1234},
    )
    assert scores.as_dict() == {
        "val_nme": 0.01667,
        "val_auc8": 0.1235,
        "val_failure8": 0.3333,
        "val_nme_by_group": {"jaw": 0.0333, "nose": 0.0123},
        "val_nme_by_subset": {"helen": 0.1234},
    }
