"""Model files check themselves: a damaged, non-finite, code-carrying, empty or older file is
refused with a clear error naming it, whether or not a card sits beside it."""

import hashlib
import json
import os
import pickle
import zipfile

import pytest
import torch
from factories import model_card
from torch import nn

from helpers.inference import modelfile, predict
from helpers.inference.modelfile import ModelFileError, ModelSettings
from helpers.nets import models


@pytest.fixture
def saved(tmp_path):
    """A small heatmap model saved without a card."""
    torch.manual_seed(0)
    model = models.UNet(68, 3, width=4, depth=2, stride=4)
    settings = ModelSettings(model.architecture, "heatmap", 32, 1.5, 0.0, 3, tuple(range(68)))
    return modelfile.save_landmarker(tmp_path / "m.pt", model, settings), model, settings


def _resave(path, edit):
    """Rewrite a model file's tensors through `edit`, keeping its stored digest."""
    state = torch.load(path, weights_only=True)
    edit(state["model"])
    torch.save(state, path)


def test_a_saved_model_verifies_and_loads_without_a_card(saved):
    path, model, settings = saved
    assert not modelfile.card_path(path).exists()
    loaded, loaded_settings = modelfile.load_landmarker(path)
    assert loaded_settings == settings
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(loaded(x), model.eval()(x), atol=0.05, rtol=0)  # half precision


def test_one_flipped_bit_in_the_weights_is_refused_without_a_card(saved):
    path, _, _ = saved
    first = next(iter(torch.load(path, weights_only=True)["model"]))

    def flip(weights):
        w = weights[first].view(torch.int16)  # half precision: 16 bits a weight
        w.view(-1)[0] ^= 1 << 14  # one exponent bit of the first convolution's first weight

    _resave(path, flip)
    with pytest.raises(ModelFileError, match="do not match its digest"):
        modelfile.load_landmarker(path)


def test_non_finite_weights_are_refused_on_save_and_on_load(saved, tmp_path):
    path, model, settings = saved
    first = next(iter(model.state_dict()))
    broken = models.UNet(68, 3, width=4, depth=2, stride=4)
    with torch.no_grad():
        broken.state_dict()[first].view(-1)[0] = float("nan")
    with pytest.raises(ModelFileError, match="not finite"):
        modelfile.save_landmarker(tmp_path / "nan.pt", broken, settings)
    assert not (tmp_path / "nan.pt").exists()

    def poison(weights):  # NaN written by something else, digest recomputed to match
        weights[first].view(-1)[0] = float("nan")

    state = torch.load(path, weights_only=True)
    poison(state["model"])
    state["digest"] = modelfile.digest(state["model"], state["settings"])
    torch.save(state, path)
    with pytest.raises(ModelFileError, match="not finite"):
        modelfile.load_landmarker(path)


def test_a_file_without_a_digest_loads_only_when_asked_by_name_with_a_warning(saved):
    path, _, _ = saved
    state = torch.load(path, weights_only=True)
    del state["digest"]
    torch.save(state, path)
    with pytest.raises(ModelFileError) as refused:
        modelfile.load_landmarker(path)
    assert str(refused.value) == (
        f"{path.resolve()} carries no digest (an older format), so it cannot be verified; "
        "load it with allow_unverified=True (--allow-unverified) if you trust it"
    )
    with pytest.warns(UserWarning, match="unverified") as record:
        modelfile.load_landmarker(path, allow_unverified=True)
    [warning] = [w for w in record if "unverified" in str(w.message)]
    assert warning.filename != modelfile.__file__  # it points at the caller's line (stacklevel)


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"bad\.pt: not a readable model file \(EOFError\)$"),
        (b"PK\x03\x04 truncated", r"bad\.pt: not a readable model file \(RuntimeError\)$"),
        (None, "refused, it holds more than tensors"),
    ],
    ids=["empty", "truncated zip", "pickled code"],
)
def test_unreadable_files_get_one_clear_error_and_no_traceback(tmp_path, capsys, content, message):
    path = tmp_path / "bad.pt"
    if content is None:  # a pickle that would run code: weights_only refuses it
        torch.save(
            {"model": _Payload(), "settings": {}}, path, pickle_protocol=pickle.DEFAULT_PROTOCOL
        )
    else:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        modelfile.load_landmarker(path)
    code = predict.main(["x.jpg", "--out", str(tmp_path / "out"), "--model", str(path)])
    err = capsys.readouterr().err
    assert code == predict.EXIT_CANNOT_START
    assert err.startswith("error: ") and "bad.pt" in err and "Traceback" not in err
    assert "weights_only=False" not in err  # never advise turning the safety off


def test_a_card_that_disagrees_refuses_the_file(saved):
    path, _, _ = saved
    modelfile.write_model_card(path, {"val_nme": 0.05})
    other = modelfile.card_path(path).read_text().replace('"sha256": "', '"sha256": "0')
    modelfile.card_path(path).write_text(other)
    with pytest.raises(ModelFileError, match="differs from its model card"):
        modelfile.load_landmarker(path)


def test_out_that_is_a_file_cannot_start(saved, tmp_path, capsys):
    path, _, _ = saved
    (tmp_path / "taken").write_text("a file, not a folder")
    code = predict.main(["x.jpg", "--out", str(tmp_path / "taken"), "--model", str(path)])
    assert code == predict.EXIT_CANNOT_START
    assert capsys.readouterr().err.startswith("error: ")


def test_ship_keeps_the_shipped_file_on_a_tie_untouched(saved, tmp_path):
    _, model, settings = saved
    path = tmp_path / "shipped.pt"
    assert modelfile.ship(path, model, settings, model_card(0.05, 0.06))
    before = path.read_bytes(), modelfile.card_path(path).read_bytes()
    assert not modelfile.ship(path, models.UNet(68, 3, width=4, depth=2, stride=4), settings,
                              model_card(0.05, 0.01))  # fmt: skip
    assert (path.read_bytes(), modelfile.card_path(path).read_bytes()) == before


@pytest.mark.parametrize(
    "mirrored, new, shipped",
    [
        (True, model_card(0.04, 0.07), True),  # better with the mirror, as the accurate model runs
        (True, model_card(0.06, 0.01), False),
        (False, model_card(0.04, 0.07), False),  # better mirrored, worse as the fast model runs
        (False, model_card(0.06, 0.05), True),
    ],
)
def test_ship_compares_a_model_the_way_it_runs(saved, tmp_path, mirrored, new, shipped):
    _, model, settings = saved
    path = tmp_path / "shipped.pt"
    assert modelfile.ship(path, model, settings, model_card(0.05, 0.06), mirrored)
    assert modelfile.ship(path, model, settings, new, mirrored) is shipped
    card = json.loads(modelfile.card_path(path).read_text())
    assert card["val_nme"] == (new if shipped else model_card(0.05, 0.06)).val_nme
    assert card["terms"] == modelfile.WEIGHTS_TERMS
    assert card["shipped_by"] == modelfile.SHIP_METRIC[mirrored]


def test_with_calibration_replaces_only_the_calibration_as_floats():
    settings = ModelSettings({"name": "UNet"}, "heatmap", 64, 1.5, 0.1, 3, (1, 0))
    calibrated = settings.with_calibration([2, -3, 1])
    assert calibrated == ModelSettings({"name": "UNet"}, "heatmap", 64, 1.5, 0.1, 3, (1, 0),
                                       (2.0, -3.0, 1.0))  # fmt: skip
    assert [type(v) for v in calibrated.detector_calibration] == [float] * 3
    assert settings.detector_calibration == (0.0, 0.0, 1.0)  # the original is left as it was


def test_settings_become_plain_lists_numbers_and_strings_and_come_back():
    settings = ModelSettings({"name": "UNet"}, "heatmap", 64, 1.5, 0.1, 3, (1, 0), (2, 3, 1.1))
    # a tuple never equals a list, so this also checks that both tuples became lists
    assert settings.to_dict() == {
        "architecture": {"name": "UNet"},
        "readout": "heatmap",
        "crop_size": 64,
        "crop_factor": 1.5,
        "crop_shift": 0.1,
        "in_channels": 3,
        "flip_perm": [1, 0],
        "detector_calibration": [2.0, 3.0, 1.1],
        "version": modelfile.SETTINGS_VERSION,
    }
    assert settings.without_mirror().to_dict()["flip_perm"] is None
    assert ModelSettings.from_dict(settings.to_dict()) == settings


def test_unversioned_settings_say_exactly_what_to_do():
    with pytest.raises(ValueError) as err:
        ModelSettings.from_dict({"architecture": {}, "readout": "heatmap", "crop_size": 64})
    assert str(err.value) == (
        "model settings without a version (written before helpers.inference.modelfile): "
        "rerun the notebook that trained it to save it again"
    )


def test_the_digest_hashes_settings_then_each_tensor_by_name_dtype_shape_and_bytes():
    state = {"b": torch.tensor([1.0], dtype=torch.float16), "a": torch.zeros(0)}
    # sorted JSON of the settings, then the tensors in name order; half-precision 1.0 is 0x3c00
    # (little-endian bytes 00 3c) and an empty tensor adds no bytes
    expected = hashlib.sha256(
        b'{"x": 1, "y": [2]}a|torch.float32|(0,)b|torch.float16|(1,)\x00\x3c'
    ).hexdigest()
    assert modelfile.digest(state, {"y": [2], "x": 1}) == expected


def test_weights_bytes_counts_floats_at_half_precision_and_integers_as_they_are():
    # weight, bias, running mean and running variance of 4 channels: 16 floats at 2 bytes each;
    # the int64 batch counter at 8
    assert modelfile.weights_bytes(nn.BatchNorm2d(4)) == 16 * 2 + 8


def test_save_takes_plain_settings_makes_folders_and_halves_only_the_floats(saved, tmp_path):
    _, model, settings = saved
    path = modelfile.save_landmarker(tmp_path / "a" / "b" / "m.pt", model, settings.to_dict())
    assert path == tmp_path / "a" / "b" / "m.pt"
    stored = torch.load(path, weights_only=True)["model"]
    assert stored.keys() == model.state_dict().keys()
    for name, tensor in model.state_dict().items():
        assert stored[name].dtype == (torch.float16 if tensor.is_floating_point() else tensor.dtype)
    assert torch.int64 in {v.dtype for v in stored.values()}  # BatchNorm's batch counters
    assert modelfile.load_landmarker(path)[1] == settings


def test_non_finite_weights_are_named_three_at_most(saved, tmp_path):
    _, _, settings = saved
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.fill_(float("inf"))
    with pytest.raises(ModelFileError) as err:
        modelfile.save_landmarker(tmp_path / "inf.pt", net, settings)
    assert str(err.value) == (
        f"{(tmp_path / 'inf.pt').resolve()}: weights are not finite in 0.weight, 0.bias, 1.weight"
    )


def test_the_card_records_the_file_its_size_and_sha256_as_indented_json(saved):
    path, _, _ = saved
    card = modelfile.write_model_card(path, {"val_nme": 0.05})
    assert card == path.with_suffix(".json")
    size, sha = path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest()
    assert card.read_text() == (
        f'{{\n  "val_nme": 0.05,\n  "weights": "m.pt",\n  "bytes": {size},\n'
        f'  "sha256": "{sha}"\n}}\n'
    )


def test_ship_says_how_big_a_model_over_the_limit_is_and_takes_one_exactly_at_it(
    saved, tmp_path, monkeypatch
):
    _, _, settings = saved
    over = nn.Module()
    over.w = nn.Parameter(torch.zeros(12_525_000, device="meta"))  # 25.05 MB: 25.1 rounded
    with pytest.raises(ValueError) as err:
        modelfile.ship(tmp_path / "over.pt", over, settings, model_card(0.05, 0.06))
    assert str(err.value) == "25.1 MB of weights: over the shipped limit"
    monkeypatch.setattr(modelfile, "MAX_SHIPPED_BYTES", 16 * 2 + 8)  # a small limit, for speed
    assert modelfile.ship(tmp_path / "at.pt", nn.BatchNorm2d(4), settings, model_card(0.05, 0.06))


def test_ship_writes_over_weights_without_a_card_or_with_a_card_lacking_its_score(saved):
    path, model, settings = saved  # weights saved, no card
    assert modelfile.ship(path, model, settings, model_card(0.05, 0.06))
    assert json.loads(modelfile.card_path(path).read_text())["val_nme"] == 0.05
    modelfile.write_model_card(path, {"val_nme": 0.05})  # no score without the mirror
    assert modelfile.ship(path, model, settings, model_card(0.05, 0.06), mirrored=False)
    assert json.loads(modelfile.card_path(path).read_text())["shipped_by"] == (
        "val_nme_without_mirrored_prediction"
    )


def test_a_missing_model_or_a_folder_is_named_along_with_the_shipped_one(tmp_path):
    for path, where in [(tmp_path / "none.pt", "missing"), (tmp_path, "a folder")]:
        with pytest.raises(FileNotFoundError) as err:
            modelfile.load_landmarker(path)
        assert str(err.value) == (
            f"No model at {path.resolve()} ({where}): the shipped one is models/landmarks68.pt"
        )


def test_a_model_saved_from_a_gpu_loads_on_the_cpu(saved, tmp_path, monkeypatch):
    _, model, settings = saved
    with monkeypatch.context() as patch:  # torch.save records each tensor's device like this
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        path = modelfile.save_landmarker(tmp_path / "gpu.pt", model, settings)
    with zipfile.ZipFile(path) as archive:
        [pickled] = [name for name in archive.namelist() if name.endswith("/data.pkl")]
        assert b"cuda:0" in archive.read(pickled)
    loaded, _ = modelfile.load_landmarker(path)
    assert {v.device.type for v in modelfile._read(path)["model"].values()} == {"cpu"}
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(loaded(x), model.eval()(x), atol=0.05, rtol=0)  # half precision


class _Harmless:
    def __reduce__(self):
        return (os.getcwd, ())


def test_code_is_refused_even_when_the_environment_asks_torch_to_allow_it(tmp_path, monkeypatch):
    path = tmp_path / "code.pt"
    torch.save({"model": _Harmless(), "settings": {}}, path)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # overrides only a default
    with pytest.raises(ModelFileError, match="refused, it holds more than tensors"):
        modelfile.load_landmarker(path)


@pytest.mark.parametrize("content", [{"weights": torch.zeros(1)}, [torch.zeros(1)]])
def test_a_torch_file_that_is_not_a_landmark_model_is_refused_by_name(tmp_path, content):
    path = tmp_path / "other.pt"
    torch.save(content, path)
    with pytest.raises(ModelFileError) as err:
        modelfile.load_landmarker(path)
    assert str(err.value) == f"{path.resolve()}: not a landmark model file (no model/settings)"
