"""Model files check themselves: a damaged, non-finite, code-carrying, empty or older file is
refused with a clear error naming it, whether or not a card sits beside it."""

import json
import os
import pickle

import pytest
import torch

from helpers import modelfile, models, predict
from helpers.modelfile import ModelFileError, ModelSettings


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
    with pytest.raises(ModelFileError, match="allow_unverified"):
        modelfile.load_landmarker(path)
    with pytest.warns(UserWarning, match="unverified"):
        modelfile.load_landmarker(path, allow_unverified=True)


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a readable model file"),
        (b"PK\x03\x04 truncated", "not a readable model file"),
        (None, "refused, it holds more than tensors"),
    ],
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


def _card(mirrored: float, plain: float) -> dict:
    return {"val_nme": mirrored, "val_nme_without_mirrored_prediction": plain}


def test_ship_keeps_the_shipped_file_on_a_tie_untouched(saved, tmp_path):
    _, model, settings = saved
    path = tmp_path / "shipped.pt"
    assert modelfile.ship(path, model, settings, _card(0.05, 0.06))
    before = path.read_bytes(), modelfile.card_path(path).read_bytes()
    assert not modelfile.ship(path, models.UNet(68, 3, width=4, depth=2, stride=4), settings,
                              _card(0.05, 0.01))  # fmt: skip
    assert (path.read_bytes(), modelfile.card_path(path).read_bytes()) == before


@pytest.mark.parametrize(
    "mirrored, new, shipped",
    [
        (True, _card(0.04, 0.07), True),  # better with the mirror, as the accurate model runs
        (True, _card(0.06, 0.01), False),
        (False, _card(0.04, 0.07), False),  # better mirrored, worse as the fast model runs
        (False, _card(0.06, 0.05), True),
    ],
)
def test_ship_compares_a_model_the_way_it_runs(saved, tmp_path, mirrored, new, shipped):
    _, model, settings = saved
    path = tmp_path / "shipped.pt"
    assert modelfile.ship(path, model, settings, _card(0.05, 0.06), mirrored)
    assert modelfile.ship(path, model, settings, new, mirrored) is shipped
    card = json.loads(modelfile.card_path(path).read_text())
    assert card["val_nme"] == (new if shipped else _card(0.05, 0.06))["val_nme"]
    assert card["shipped_by"] == modelfile.SHIP_METRIC[mirrored]
