"""Model cards for 300-W landmark models: what was trained on what, how it scored, how fast."""

from __future__ import annotations

from collections.abc import Mapping

from torch import nn

from ..config import hardware
from ..data.ibug_prep import IbugData
from ..inference.modelfile import MAX_SHIPPED_BYTES, ModelCard, weights_bytes
from .evaluate import IbugScores


def ibug_card(
    *,
    description: str,
    trained_by: str,
    data: IbugData,
    recipe: Mapping,
    scores: IbugScores,
    plain: IbugScores,
    ms_per_face: tuple[float, float],
    precision: str,
    train_seconds: float,
    pretrained: bool = False,
    compared_with: Mapping[str, IbugScores] | None = None,
    ced_figure: str | None = None,
) -> ModelCard:
    """The card of a model trained on `data`: `scores` with the mirrored prediction, `plain`
    without; ms_per_face is (without, with the mirror) at batch 1; recipe the settings it was
    trained with; compared_with other models' scores on the same faces."""
    return ModelCard(
        model=description,
        trained_by=trained_by,
        data=(
            f"labels_ibug_300W_train.xml: {len(data.train_faces)} training faces (AFW, HELEN, "
            f"LFPW), {len(data.val_faces)} held out by image"
        ),
        input=(
            f"{data.size}x{data.size} {'grey' if data.grayscale else 'RGB'} crop, a square "
            f"{data.crop_factor} x the face box, centre moved down {data.crop_shift} box heights"
        ),
        settings=dict(recipe),
        pretrained_imagenet=pretrained,
        val_nme=round(scores.mean, 5),
        val_auc8=round(scores.auc8, 4),
        val_failure8=round(scores.failure8, 4),
        val_nme_without_mirrored_prediction=round(plain.mean, 5),
        ms_per_face_batch1=round(ms_per_face[0], 2),
        ms_per_face_batch1_mirrored=round(ms_per_face[1], 2),
        precision=precision,
        hardware=hardware(),
        train_seconds=round(train_seconds, 1),
        compared_on_the_same_faces=compared(compared_with or {}),
        ced_figure=ced_figure,
    )


def compared(others: Mapping[str, IbugScores]) -> dict:
    """Other models' scores on the same validation faces, for a card to show beside its own."""
    return {
        name: {
            "val_nme": round(s.mean, 5),
            "val_auc8": round(s.auc8, 4),
            "val_failure8": round(s.failure8, 4),
        }
        for name, s in others.items()
    }


def best_shippable(candidates: Mapping[str, tuple[nn.Module, float]]) -> str:
    """The name of the candidate (model, validation NME) with the lowest NME among those whose
    weights fit the shipped-file limit."""
    fits = {
        k: nme
        for k, (model, nme) in candidates.items()
        if weights_bytes(model) <= MAX_SHIPPED_BYTES
    }
    if not fits:
        raise ValueError(
            f"no candidate fits {MAX_SHIPPED_BYTES / 1e6:.0f} MB: {sorted(candidates)}"
        )
    return min(fits, key=fits.get)
