"""The iBUG XML loader's bad inputs, the train/validation split and the Kaggle CSV format."""

import numpy as np
import pytest
import torch
from skimage import io

from helpers.data import ibug, kaggle
from helpers.data.datasets import KeypointDataset
from helpers.data.ibug import IbugError


def write_xml(tmp_path, box='top="10" left="20" width="40" height="40"', parts=68, image=True):
    """A one-face XML beside a 100x80 image; returns the XML path."""
    if image:
        io.imsave(tmp_path / "face.jpg", np.zeros((80, 100, 3), np.uint8), check_contrast=False)
    part_xml = "".join(
        f'<part name="{k:02d}" x="{30 + k % 20}" y="{20 + k // 20}"/>' for k in range(parts)
    )
    xml = tmp_path / "labels.xml"
    xml.write_text(
        "<dataset><images><image file='face.jpg'>"
        f"<box {box}>{part_xml}</box></image></images></dataset>"
    )
    return xml


def test_loads_points_sorted_by_name(tmp_path):
    [face] = ibug.load_xml(write_xml(tmp_path))
    assert face.size == (100, 80) and face.points.shape == (68, 2)
    np.testing.assert_allclose(face.points[21], [31, 21])
    np.testing.assert_allclose(face.box, [20, 10, 40, 40])


def test_test_file_without_parts(tmp_path):
    [face] = ibug.load_xml(write_xml(tmp_path, parts=0), need_points=False)
    assert face.points is None


def test_box_is_clipped_to_the_image(tmp_path):
    [face] = ibug.load_xml(write_xml(tmp_path, box='top="-10" left="70" width="50" height="50"'))
    np.testing.assert_allclose(face.box, [70, 0, 30, 40])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(image=False), "missing"),
        (dict(parts=67), "67 parts, expected 68"),
        (dict(parts=0), "0 parts"),
        (dict(box='top="10" left="20" width="0" height="40"'), "empty or outside"),
        (dict(box='top="10" left="200" width="40" height="40"'), "empty or outside"),
        (dict(box='top="10" left="x" width="40" height="40"'), "numeric"),
    ],
)
def test_bad_faces_name_the_image(tmp_path, kwargs, message):
    with pytest.raises(IbugError, match=message) as err:
        ibug.load_xml(write_xml(tmp_path, **kwargs))
    assert "face.jpg" in str(err.value)


def test_kaggle_csv_format(tmp_path):
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, (3, 68, 2))
    path = kaggle.write_submission(points, [(0, 0, 100, 100)] * 3, tmp_path / "sub.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "Id,Predicted" and len(lines) == 1 + 3 * 136
    i, k = 2, 45
    assert lines[1 + 136 * i + 2 * k].split(",") == [str(136 * i + 2 * k), f"{points[i, k, 0]:.3f}"]
    assert lines[1 + 136 * i + 2 * k + 1].split(",")[1] == f"{points[i, k, 1]:.3f}"
    np.testing.assert_allclose(kaggle.read_submission(path), points, atol=1e-3)


@pytest.mark.parametrize(
    "points, message",
    [
        (np.zeros((2, 68, 2)), "shape"),
        (np.full((3, 68, 2), np.nan), "NaN"),
        (np.full((3, 68, 2), 1e4), "outside"),
    ],
)
def test_kaggle_validator_refuses_bad_predictions(tmp_path, points, message):
    with pytest.raises(ValueError, match=message):
        kaggle.write_submission(points, [(0, 0, 100, 100)] * 3, tmp_path / "sub.csv")
    assert not (tmp_path / "sub.csv").exists()


def test_real_xml_files(data_root):
    folder = data_root / ibug.IBUG_DIR
    train = ibug.load_xml(folder / ibug.TRAIN_XML)
    test = ibug.load_xml(folder / ibug.TEST_XML, need_points=False)
    assert (len(train), len(test)) == (2208, 358)
    assert all(f.points is None for f in test)
    factor, shift = ibug.fit_crop(train)
    assert 1.2 < factor < 2.0 and abs(shift) < 0.2


def test_split_by_image_keeps_each_image_on_one_side(tmp_path):
    faces = [
        ibug.IbugFace(tmp_path / f"{k // 2}.jpg", (100, 80), np.zeros(4), None) for k in range(40)
    ]
    train, val = ibug.split_by_image(faces, 0.25, seed=3)
    assert len(train) + len(val) == 40 and len(val) == 10  # 5 of 20 images, 2 faces each
    assert not {f.image_path for f in train} & {f.image_path for f in val}
    again = ibug.split_by_image(faces, 0.25, seed=3)[1]
    assert [f.image_path for f in again] == [f.image_path for f in val]
    with pytest.raises(ValueError, match="fraction"):
        ibug.split_by_image(faces, 1.0)


def test_split_keeps_an_image_and_its_mirror_together(tmp_path):
    # The full course download holds x.jpg and x_mirror.jpg: a mirrored validation face in
    # training would leak. Ten pairs; with any seed, each pair lands on one side.
    names = [f"lfpw_{k}{tail}.jpg" for k in range(10) for tail in ("", "_mirror")]
    faces = [ibug.IbugFace(tmp_path / n, (100, 80), np.zeros(4), None) for n in names]
    for seed in range(5):
        train, val = ibug.split_by_image(faces, 0.3, seed=seed)
        assert len(val) == 6  # 3 of the 10 source images, each with its mirror
        sides = {f.image_path.name: "val" for f in val} | {f.image_path.name: "tr" for f in train}
        for k in range(10):
            assert sides[f"lfpw_{k}.jpg"] == sides[f"lfpw_{k}_mirror.jpg"]


def test_mean_target_is_the_mean_served_target():
    points = torch.rand(5, 68, 2) * 50
    data = KeypointDataset(torch.zeros(5, 3, 60, 80, dtype=torch.uint8), points, grayscale=False)
    served = torch.stack([target for _, target in (data[i] for i in range(5))])
    torch.testing.assert_close(data.mean_target(), served.mean(0))


def test_subset_of_reads_the_folder():
    assert ibug.subset_of("/d/ibug_300W/lfpw/trainset/image_0001.jpg") == "lfpw"
    assert ibug.subset_of("/d/ibug_300W/afw/1051618982_1.jpg") == "afw"
    assert ibug.subset_of("/elsewhere/photo.jpg") == "other"


def test_subset_keeps_the_chosen_samples_and_the_augmentation():
    points = torch.rand(6, 68, 2) * 50
    images = torch.arange(6, dtype=torch.uint8).view(6, 1, 1, 1).expand(6, 3, 60, 80)
    data = KeypointDataset(images, points, grayscale=False, augment=lambda im, p: (im, p + 1))
    part = data.subset([4, 1])
    assert len(part) == 2 and part.augment is data.augment
    assert part.images[0, 0, 0, 0] == 4 and torch.equal(part.points[1], points[1])
    torch.testing.assert_close(part.mean_target(), data.subset([1, 4]).mean_target())
