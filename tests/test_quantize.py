"""int8 quantization of the fast model's export: close to float32 on real faces, smaller, and
refused for an export its card does not vouch for."""

import shutil

import numpy as np
import pytest
import torch

from helpers.data import ibug
from helpers.images import read_image
from helpers.inference import modelfile, predict, runtime
from helpers.reports import quantize


@pytest.fixture(scope="module")
def fast_copy(tmp_path_factory):
    """The shipped fast model, its card and its ONNX export, copied."""
    folder = tmp_path_factory.mktemp("fast")
    weights = modelfile.FAST_MODEL
    for path in (weights, modelfile.card_path(weights), runtime.onnx_path(weights)):
        shutil.copy(path, folder / path.name)
    return folder / weights.name


def test_int8_points_stay_near_float32_points_on_validation_faces(fast_copy, data_root, tmp_path):
    _, settings = modelfile.load_landmarker(fast_copy)
    plain = settings.without_mirror()
    onnx = predict.Landmarker(runtime.OnnxNet(runtime.onnx_path(fast_copy)), plain)
    faces = ibug.load_xml(data_root / ibug.IBUG_DIR / ibug.TRAIN_XML)
    val = ibug.split_by_image(faces, 0.1, seed=0)[1][:40]
    crops = torch.cat([onnx.crops(read_image(f.image_path), [f.box])[0] for f in val])
    squares = np.float32([[0, 0, settings.crop_size]] * len(crops))  # points in crop pixels
    calibration = [crops[i : i + 8].numpy() for i in range(0, 32, 8)]
    int8 = quantize.quantize(fast_copy, tmp_path / "fast.int8.onnx", calibration)
    assert int8.stat().st_size < 0.6 * runtime.onnx_path(fast_copy).stat().st_size
    a = onnx.from_crops(crops[32:], squares[32:])[0]
    b = predict.Landmarker(runtime.OnnxNet(int8), plain).from_crops(crops[32:], squares[32:])[0]
    moved = np.linalg.norm(a - b, axis=-1)  # crop pixels
    # near (a few points may jump to another peak: 12 px here), and really int8, not a copy
    assert np.median(moved) < 1.0 and moved.mean() < 2.0 and moved.max() > 0


def test_an_export_the_card_does_not_vouch_for_is_refused(fast_copy, tmp_path):
    for path in fast_copy.parent.iterdir():
        shutil.copy(path, tmp_path / path.name)
    weights = tmp_path / fast_copy.name
    onnx = runtime.onnx_path(weights)
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="differs from its card"):
        quantize.quantize(weights, tmp_path / "x.onnx", [])
