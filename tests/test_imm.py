"""IMM parsing and the nose-tip dataset: real data, and every bad input on small files."""

import numpy as np
import pytest

from helpers.data import datasets, imm
from helpers.data.imm import AsfError
from helpers.images import ImageError


def test_parses_points_in_pixels(write_face):
    rel = np.random.default_rng(1).uniform(0.1, 0.9, (58, 2))
    face = imm.load_face(write_face(points=rel, size=(64, 48)))
    assert face.points.shape == (58, 2)
    np.testing.assert_allclose(face.points, rel * [64, 48], atol=1e-4)
    assert (face.person, face.view, face.gender, face.size) == (1, 1, "m", (64, 48))


def test_ten_column_lines(write_face):
    face = imm.load_face(write_face(name="14-5f", extra_cols=True))
    assert (face.person, face.view, face.gender) == (14, 5, "f")
    assert face.points.shape == (58, 2)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t[: t.index("host image") - 200], "truncated"),
        (lambda t: t.replace("\n58\n", "\nfifty-eight\n", 1), "point count"),
        (lambda t: t.replace("\t4 \t", "\t4 \t\t1 \t", 1), "columns"),
        (lambda t: t.replace("0 \t4 \t0.", "0 \t4 \tx.", 1), "non-numeric"),
        (lambda t: "# only comments\n", "no content"),
    ],
)
def test_malformed_files_name_file_and_problem(write_face, mutate, message):
    from tests.conftest import asf_text

    rel = np.random.default_rng(2).uniform(0.1, 0.9, (58, 2))
    path = write_face(text=mutate(asf_text(rel, "01-1m.jpg")))
    with pytest.raises(AsfError, match=message) as err:
        imm.load_face(path)
    assert str(path) in str(err.value)


def test_wrong_point_count(write_face):
    path = write_face(points=np.full((57, 2), 0.5))
    with pytest.raises(AsfError, match="57 points, expected 58"):
        imm.load_face(path)


def test_coordinates_outside_image(write_face):
    rel = np.full((58, 2), 0.5)
    rel[7] = (1.2, 0.5)
    with pytest.raises(AsfError, match="outside the image"):
        imm.load_face(write_face(points=rel))


def test_missing_image(write_face):
    with pytest.raises(ImageError, match="missing"):
        imm.load_face(write_face(image=False))


def test_unreadable_image(write_face, tmp_path):
    path = write_face()
    (tmp_path / "01-1m.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ImageError, match="unreadable"):
        imm.load_face(path)


def test_bad_file_name(write_face):
    with pytest.raises(AsfError, match="file name"):
        imm.load_face(write_face(name="face01"))


def test_missing_dataset_says_where_and_how(monkeypatch, tmp_path):
    monkeypatch.setenv("FKD_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path)) as err:
        imm.load_imm()
    assert "python -m helpers download" in str(err.value)


def test_real_database_and_split(data_root):
    faces = imm.load_imm()
    train, val = imm.split(faces)
    assert (len(faces), len(train), len(val)) == (240, 192, 48)
    assert {f.person for f in val} == set(range(33, 41))
    assert all(f.size == (640, 480) for f in faces)
    assert sum(f.gender == "f" for f in faces) == 7 * 6
    # The nose tip lies between the eyes and the mouth, horizontally inside the face.
    pts = np.stack([f.points for f in faces])
    nose, eyes, mouth = pts[:, imm.NOSE_TIP, 1], pts[:, 13:29, 1].mean(1), pts[:, 39:47, 1].mean(1)
    assert ((eyes < nose) & (nose < mouth)).mean() > 0.95


def test_nose_dataset_shapes_and_range(data_root):
    faces = imm.split(imm.load_imm())[1][:6]
    ds = datasets.imm_dataset(faces, (80, 60), [imm.NOSE_TIP])
    image, target = ds[0]
    assert image.shape == (1, 60, 80) and target.shape == (1, 2)
    assert -0.5 <= image.min() and image.max() <= 0.5
    back = datasets.to_original(np.stack([ds[i][1].numpy() for i in range(6)]), faces, (80, 60))
    truth = np.stack([f.points[[imm.NOSE_TIP]] for f in faces])
    np.testing.assert_allclose(back, truth, atol=1e-3)
