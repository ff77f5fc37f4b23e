"""ONNX export: the same points as torch to 0.01 px on validation faces, trusted only through
the card, and everything still runs on torch without ONNX Runtime."""

import json
import shutil

import numpy as np
import pytest
import torch

from helpers.data import ibug
from helpers.images import read_image
from helpers.inference import export, modelfile, predict, runtime


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The shipped model and card, copied and exported to ONNX beside them."""
    folder = tmp_path_factory.mktemp("shipped")
    for path in (modelfile.DEFAULT_MODEL, modelfile.card_path(modelfile.DEFAULT_MODEL)):
        shutil.copy(path, folder / path.name)
    weights = folder / modelfile.DEFAULT_MODEL.name
    export.export(weights)
    return weights


def test_the_card_lists_the_export_and_its_hash(exported):
    card = json.loads(modelfile.card_path(exported).read_text())
    assert card["onnx"]["sha256"] == modelfile.sha256_of(runtime.onnx_path(exported))
    model, _ = modelfile.load_landmarker(exported)
    crops = torch.rand(3, 3, 128, 128, generator=torch.Generator().manual_seed(1)) - 0.5
    with torch.no_grad():  # crops the export never saw
        difference = (runtime.OnnxNet(runtime.onnx_path(exported))(crops) - model(crops)).abs()
    assert float(difference.max()) <= export.TOLERANCE
    assert sorted(p.suffix for p in exported.parent.iterdir()) == [".json", ".onnx", ".pt"]
    modelfile.load_landmarker(exported)  # the weights' own hash on the card still holds


def test_onnx_runtime_gives_torchs_points_on_validation_faces(exported, data_root):
    faces = ibug.load_xml(data_root / ibug.IBUG_DIR / ibug.TRAIN_XML)
    val = ibug.split_by_image(faces, 0.1, seed=0)[1][:40]
    on_torch = predict.Landmarker.load(exported, runtime="torch")
    on_onnx = predict.Landmarker.load(exported, runtime="onnx")
    assert (on_torch.runtime, on_onnx.runtime) == ("torch", "onnxruntime")
    for face in val:
        image = read_image(face.image_path)
        a, conf_a = on_torch.in_boxes(image, [face.box])
        b, conf_b = on_onnx.in_boxes(image, [face.box])
        assert np.abs(a - b).max() < 0.01, face.image_path
        assert np.abs(conf_a - conf_b).max() < 1e-3, face.image_path


def test_an_export_that_differs_from_torch_is_refused_and_not_written(tmp_path, monkeypatch):
    for path in (modelfile.DEFAULT_MODEL, modelfile.card_path(modelfile.DEFAULT_MODEL)):
        shutil.copy(path, tmp_path / path.name)
    weights = tmp_path / modelfile.DEFAULT_MODEL.name
    card = modelfile.card_path(weights).read_text()
    monkeypatch.setattr(export, "TOLERANCE", -1.0)  # any difference, even 0, is too large
    with pytest.raises(modelfile.ModelFileError, match="differs from torch"):
        export.export(weights)
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".pt"]
    assert modelfile.card_path(weights).read_text() == card


def test_an_export_the_card_does_not_vouch_for_is_not_used(exported, tmp_path):
    for path in exported.parent.iterdir():
        shutil.copy(path, tmp_path / path.name)
    weights = tmp_path / exported.name
    onnx = runtime.onnx_path(weights)
    onnx.write_bytes(onnx.read_bytes() + b"\0")  # changed after the card was written
    with pytest.warns(UserWarning, match="differs from its card"):
        assert predict.Landmarker.load(weights).runtime == "torch"
    with pytest.raises(ValueError, match="differs from its card"):
        predict.Landmarker.load(weights, runtime="onnx")


def test_without_onnx_runtime_everything_runs_on_torch(exported, monkeypatch):
    monkeypatch.setattr(runtime, "ort", None)
    assert predict.Landmarker.load(exported).runtime == "torch"
    with pytest.raises(ValueError, match="pip install onnxruntime"):
        predict.Landmarker.load(exported, runtime="onnx")
