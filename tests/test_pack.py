"""The pack: the release's crops in one verified file, and training from it or from the XML
gives the same model."""

import json

import numpy as np
import pytest
import torch

from helpers.config import RELEASES, IbugConfig
from helpers.data import pack
from helpers.data.ibug_prep import prepare
from helpers.training.recipes import recipe_data, recipe_loss, student_builder
from helpers.training.studies import trial

QUICK = RELEASES["quick"]  # 64 px crops, the first 32 training faces


@pytest.fixture(scope="module")
def packed(data_root, tmp_path_factory):
    """The quick recipe's data from the XML, and the pack written from the same faces."""
    data = recipe_data(QUICK)
    path = tmp_path_factory.mktemp("pack") / "quick.npz"
    pack.write(prepare(IbugConfig(crop_size=QUICK.crop_size), QUICK.max_train_faces), path)
    return data, path


def test_a_pack_holds_the_faces_as_the_release_reads_them(packed):
    data, path = packed
    got = pack.read(path)
    assert torch.equal(got.train_images, data.train.images)  # both as stored: JPEG and back
    assert torch.equal(got.val_images, data.val.images)  # lossless
    assert torch.equal(got.train_points, data.train.points)
    assert torch.equal(got.val_points, data.val.points)
    np.testing.assert_array_equal(got.val_squares, data.val_squares.astype(np.float32))
    np.testing.assert_array_equal(got.val_true_px, data.true_px.astype(np.float32))
    np.testing.assert_array_equal(got.val_subsets, data.subsets)
    np.testing.assert_array_equal(got.perm, data.perm)
    assert len(got.train_files) == 32 and len(got.val_files) == len(data.val_faces) == 221
    assert str(data.val_faces[0].image_path).endswith(str(got.val_files[0]))
    assert (got.size, got.meta["crop_factor"]) == (64, data.crop_factor)


def test_stored_training_crops_are_close_to_the_crops_as_cut(packed):
    data, _ = packed
    cut = prepare(IbugConfig(crop_size=QUICK.crop_size), QUICK.max_train_faces).train.images
    error = (data.train.images.float() - cut.float()).pow(2).mean()
    assert 0 < error and 10 * torch.log10(255**2 / error) > 38  # dB: lossy, and only just


def test_training_from_the_pack_or_the_xml_gives_the_same_weights(packed):
    data, path = packed
    got = pack.read(path)
    runs = [
        trial(
            student_builder(QUICK),
            train_set,
            val_set,
            lr=1e-3,
            batch_size=8,
            epochs=1,
            loss_fn=recipe_loss(QUICK),
        )
        for train_set, val_set in [
            (data.train, data.val),
            (got.train_set(data.augment), got.val_set()),
        ]
    ]
    assert runs[0].history.train == runs[1].history.train
    for a, b in zip(*(r.model.state_dict().values() for r in runs), strict=True):
        assert torch.equal(a, b)


def test_a_changed_or_unverifiable_pack_is_refused(packed, tmp_path):
    _, path = packed
    changed = tmp_path / "changed.npz"
    changed.write_bytes(path.read_bytes()[:-1] + b"x")
    pack.checksum_path(changed).write_text(pack.checksum_path(path).read_text())
    with pytest.raises(ValueError, match="SHA-256 differs"):
        pack.read(changed)
    bare = tmp_path / "bare.npz"
    bare.write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="no bare.npz.sha256"):
        pack.read(bare)
    assert pack.read(bare, sha256=pack.checksum_path(path).read_text().split()[0]).size == 64


def test_other_decoded_pixels_are_refused(packed, tmp_path):
    _, path = packed
    with np.load(path) as arrays:
        content = {key: arrays[key] for key in arrays.files}
    meta = json.loads(str(content["meta"]))
    content["meta"] = np.array(json.dumps({**meta, "train_pixels_sha256": "0" * 64}))
    other = tmp_path / "other.npz"
    np.savez(other, **content)
    with pytest.raises(ValueError, match="decoder gives other pixels"):
        pack.read(other, sha256=pack.sha256_of(other))


def test_the_full_release_pack_fits_what_travels(data_root, tmp_path, capsys):
    out = tmp_path / "full.npz"
    assert pack.main(["--out", str(out)]) == 0
    assert out.stat().st_size <= 20e6  # the GPU machine takes 64 MiB, 40 of them the repository
    got = pack.read(out)
    assert (len(got.train_images), len(got.val_images), got.size) == (1987, 221, 128)
    assert "1987 training and 221 validation faces" in capsys.readouterr().out
