"""The release training runs of the shipped 300-W landmark models: one command, resumable.

Usage: python -m helpers release [--profile full|refine|fast|fast-refine|quick|...] [--out DIR]

Trains config.RELEASES[profile] on the 300-W training split of notebooks 3 and 4 (the same 221
validation faces), with a checkpoint after every epoch: killed at any point, the same command
resumes and ends with the same result. `fast` trains the fast model (FastNet) with the shipped
model as its teacher (helpers.training.distil); `refine` and `fast-refine` train on from the weights
shipped in models/<model_file> (their checkpoint is keyed by those weights' hash: once a refine
run has shipped, the same command starts a new refinement of the new weights).
Then it scores the model on validation (NME, AUC@8%, failure rate, by group and subset, with
and without the mirror), times it beside the shipped model (ms/face, batch 1, float32, torch
and ONNX Runtime), and writes, under DIR (the repository for config.COMMITTED_RELEASES,
runs/release-<profile> otherwise): results/<label>.json, figures/<label>_ced.png (beside the
shipped model and Part 3's regression) and figures/<label>_loss.png,
results/kaggle_submission_<label>.csv, and the model with its card and ONNX export through
modelfile.ship, which replaces models/<model_file> only if better."""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

from torch import nn

from .. import config, plots
from ..data import kaggle
from ..files import sha256_of
from ..inference import timing
from ..inference.modelfile import (
    DEFAULT_MODEL,
    FAST_MODEL,
    ModelSettings,
    card_path,
    load_landmarker,
)
from ..nets import models
from . import cards, distil, evaluate, finish, precision
from .evaluate import IbugScores
from .recipes import recipe_data, recipe_loss, student_builder, warm_start
from .studies import trial
from .train import History, checkpoint_path


def release(cfg: config.ReleaseConfig, name: str) -> dict:
    """Train, score, time and ship one release recipe; returns what results/<label>.json holds."""
    start = time.perf_counter()
    prec = precision.choose(cfg.precision)
    print(f"release ({name}): {cfg}\non {config.hardware()}, {prec.name} ({prec.reason})")
    data, loss = recipe_data(cfg), recipe_loss(cfg)
    before = Before.load()
    run = train(cfg, name, data, loss, prec, before)
    model = run.model.student if cfg.distill else run.model
    trained = Trained(model, run.history, prec, config.hardware(), "helpers/training/release.py")
    return conclude(cfg, name, data, trained, before, start)


@dataclass(frozen=True)
class Trained:
    """A trained model and how it was trained: its losses, precision, machine and code."""

    model: nn.Module
    history: History
    precision: precision.Precision
    hardware: str
    trained_by: str


def conclude(cfg, name: str, data, trained: Trained, before: Before, start: float) -> dict:
    """Score, compare, time and ship a trained release model, and write its figures, Kaggle
    file and results/<label>.json; returns what that file holds."""
    loss, prec = recipe_loss(cfg), trained.precision
    model = models.for_inference(trained.model)
    measured = finish.measure(model, data, loss.readout)
    print(f"{cfg.label}: {measured.line()}")
    others = compare(data, before, measured)
    curves = {label: scores.nme for label, scores in others.items()}
    ced_figure = plots.save_figure(
        plots.plot_ced({**curves, f"{cfg.label} ({name})": measured.scores.nme}), f"{cfg.label}_ced"
    )
    print(ced_figure)
    fig = plots.plot_losses(trained.history, f"{cfg.label} {cfg.network['name']}", cfg.loss)
    print(plots.save_figure(fig, f"{cfg.label}_loss"))
    csv = kaggle_file(cfg, model, data, loss.readout)
    card = cards.ibug_card(
        description=describe(cfg, model),
        trained_by=trained.trained_by,
        data=data,
        recipe={"profile": name, **asdict(cfg)},
        scores=measured.scores,
        plain=measured.plain,
        ms_per_face=measured.ms_per_face,
        precision=prec.name,
        train_seconds=trained.history.seconds,
        compared_with=others,
        ced_figure=ced_figure,
    )
    target = config.models_dir() / cfg.model_file
    fast = cfg.model_file == FAST_MODEL.name
    shipped = finish.ship_and_export(target, model, measured, card, not fast, export_onnx=True)
    print(shipped.line())
    if shipped.onnx_ms_per_face is not None and before.onnx_ms is not None:
        ms = (shipped.onnx_ms_per_face, before.onnx_ms)
        print(f"ONNX Runtime: {ms[0]:.2f} ms/face; the shipped model {ms[1]:.2f}")
    results = {
        **measured.scores.as_dict(),
        "val_nme_without_mirrored_prediction": round(measured.plain.mean, 5),
        "shipped_before": before.record,  # a rerun after shipping compares with itself
        "shipped_val_nme": round(before.scores.mean, 5),
        "shipped_val_nme_without_mirrored_prediction": round(before.plain.mean, 5),
        "regression_val_nme": round(others["Part 3 regression"].mean, 5),
        "ms_per_face_batch1": round(measured.ms_per_face[0], 2),
        "ms_per_face_batch1_mirrored": round(measured.ms_per_face[1], 2),
        "shipped_ms_per_face_batch1": round(before.ms, 2),
        "onnx_ms_per_face_batch1": _rounded(shipped.onnx_ms_per_face),
        "shipped_onnx_ms_per_face_batch1": _rounded(before.onnx_ms),
        "parameters": models.count_parameters(model),
        "architecture": model.architecture,
        "shipped": shipped.written,
        "model_file": config.relative(target),
        "kaggle_file": config.relative(csv),
        "train_seconds": round(trained.history.seconds, 1),
        "seconds": round(time.perf_counter() - start, 1),
        "trained_on": trained.hardware,  # save_results adds the machine that scored and timed
        **prec.as_dict(),
        "settings": asdict(cfg),
        "profile": name,
        # per validation face, for the CED plots of notebook 5, the README and the write-up
        "val_nme_per_face": {
            label: [round(float(v), 5) for v in nme]
            for label, nme in {**curves, cfg.label: measured.scores.nme}.items()
        },
    }
    print(plots.save_results(cfg.label, results))
    return results


@dataclass
class Before:
    """The shipped model a release is compared with, as it was before the run: its model, its
    settings, a record of its file, and (filled in by compare) its scores and times."""

    model: nn.Module
    settings: ModelSettings
    record: dict
    scores: IbugScores | None = None
    plain: IbugScores | None = None
    ms: float = float("nan")
    onnx_ms: float | None = None

    @classmethod
    def load(cls) -> Before:
        """The shipped model and the record of its file (what a rerun compares with)."""
        model, settings = load_landmarker(DEFAULT_MODEL)
        card = json.loads(card_path(DEFAULT_MODEL).read_text())
        record = {
            "file": config.relative(DEFAULT_MODEL),
            "sha256": sha256_of(DEFAULT_MODEL),
            "model": card.get("model"),
            "trained_by": card.get("trained_by"),
        }
        return cls(model, settings, record)

    @property
    def label(self) -> str:
        return f"{DEFAULT_MODEL.name} before this run ({self.settings.architecture['name']})"


def train(cfg: config.ReleaseConfig, name: str, data, loss, prec, before: Before):
    """Train the recipe, resuming its checkpoint; a run of another teacher or another start
    is another checkpoint."""
    build, train_loss, run_settings = student_builder(cfg), loss, {"profile": name, **asdict(cfg)}
    start_file = DEFAULT_MODEL.parent / cfg.model_file  # what from_shipped trains on from
    if cfg.from_shipped:  # refine a shipped model: the same network, its weights to start
        build = warm_start(build, load_landmarker(start_file)[0])
        run_settings["start_sha256"] = sha256_of(start_file)  # new weights: a new run
    if cfg.distill:  # the shipped model teaches; it must read the same crops the same way
        teacher = before.settings
        same = (teacher.crop_size, teacher.in_channels, teacher.readout)
        if same != (cfg.crop_size, 3, loss.readout):
            raise ValueError(f"the teacher reads (crop, channels, readout) {same}: not these")
        build = distil.distiller(build, copy.deepcopy(before.model))
        train_loss = distil.DistillLoss(loss, cfg.distill)
        run_settings["teacher_sha256"] = before.record["sha256"]  # a new teacher: a new run
    return trial(
        build,
        data.train,
        data.val,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        loss_fn=train_loss,
        scheduler="cosine",
        bf16=prec.bf16,
        drop_last=True,
        workers=config.loader_workers(),
        checkpoint=checkpoint_path("release", run_settings),  # the same command resumes a kill
        desc=f"{cfg.label} {cfg.network['name']}",
    )


def compare(data, before: Before, measured: finish.Measured) -> dict[str, IbugScores]:
    """Score and time the shipped model and Part 3's regression on the same validation faces,
    the shipped model in the same run as the new one; fills in `before`."""
    settings = before.settings
    own = data if data.size == settings.crop_size else data.at_size(settings.crop_size)
    score = partial(evaluate.ibug_scores, true_px=data.true_px, subsets=data.subsets)
    shipped_on = partial(evaluate.crop_points, before.model, own.val, own.val_squares)
    before.scores = score(shipped_on(settings.readout, data.perm)[0])  # at its own crop size
    before.plain = score(shipped_on(settings.readout)[0])
    before.ms = timing.ms_per_face(before.model, settings, 1, False, repeats=50)
    before.onnx_ms = finish.onnx_speed(DEFAULT_MODEL, before.model, settings)  # before ship
    print(
        f"{measured.ms_per_face[0]:.2f} ms/face without the mirror, {measured.ms_per_face[1]:.2f} "
        f"with it (batch 1, float32, torch); the shipped model: {before.ms:.2f} without the "
        "mirror, in the same run"
    )
    regression = score(evaluate.part3_points(data.val_faces)[0])
    return {"Part 3 regression": regression, before.label: before.scores}


def kaggle_file(cfg: config.ReleaseConfig, model: nn.Module, data, readout: str) -> Path:
    """The Kaggle submission of the 358 test faces, mirror averaged."""
    test_set, test_squares = data.test
    test_px, _ = evaluate.crop_points(model, test_set, test_squares, readout, data.perm)
    boxes = [f.box for f in data.test_faces]
    path = config.results_dir() / f"kaggle_submission_{cfg.label}.csv"
    return kaggle.write_submission(test_px, boxes, path)


def describe(cfg: config.ReleaseConfig, model: nn.Module) -> str:
    """The card's one-line description of a release model."""
    fast = cfg.model_file == FAST_MODEL.name
    note = "read without the mirror by --fast" if fast else "mirror averaged in"
    note += f", distilled from {DEFAULT_MODEL.name}" if cfg.distill else ""
    note += f", trained on from {cfg.model_file}" if cfg.from_shipped else ""
    return (
        f"{cfg.label} {cfg.network['name']} ({model.architecture}): 68 heatmaps at stride 4, "
        f"val_nme with the mirrored prediction, {note}"
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def summary(results: dict) -> str:
    """A release's results (results/<label>.json) as the lines a person reads: recipe, time,
    scores with and without the mirror, by group and subset, cost, and what it is compared with."""

    def pct(value: float) -> str:
        return f"{100 * value:.2f}%"

    before = results["shipped_before"]
    return "\n".join(
        [
            f"release recipe: {results['settings']}",
            f"trained {results['train_seconds'] / 60:.0f} min on "
            f"{results.get('trained_on', results['hardware'])} "
            f"({results['precision']})",
            f"validation NME {pct(results['val_nme'])} (without the mirror "
            f"{pct(results['val_nme_without_mirrored_prediction'])}), AUC@8% "
            f"{results['val_auc8']:.3f}, failure rate @8% {100 * results['val_failure8']:.2f}%",
            f"by group: { {g: pct(v) for g, v in results['val_nme_by_group'].items()} }",
            f"by subset: { {s: pct(v) for s, v in results['val_nme_by_subset'].items()} }",
            f"cost: {results['ms_per_face_batch1']:.2f} ms/face on torch, "
            f"{results['onnx_ms_per_face_batch1']} on ONNX Runtime (batch 1, no mirror, float32); "
            f"{results['parameters']:,} parameters",
            f"before it: {pct(results['shipped_val_nme'])} ({before['file']}: {before['model']}, "
            f"from {before.get('trained_by') or before.get('notebook')})",
            f"Part 3's regression: {pct(results['regression_val_nme'])}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(config.RELEASES), default="full")
    parser.add_argument("--out", type=Path, help="where results/, figures/ and models/ go")
    args = parser.parse_args(argv)
    committed = args.profile in config.COMMITTED_RELEASES
    out = args.out or (
        config.REPO_ROOT if committed else config.REPO_ROOT / f"runs/release-{args.profile}"
    )
    os.environ["FKD_OUTPUT_DIR"] = str(out.resolve())
    try:
        release(config.RELEASES[args.profile], args.profile)
    except FileNotFoundError as err:  # no data: say where it was looked for
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
