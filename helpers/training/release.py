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
from dataclasses import asdict
from functools import partial
from pathlib import Path

import torch

from .. import config, plots
from ..data import kaggle
from ..files import sha256_of
from ..images import read_image
from ..inference import timing
from ..inference.detect import calibrate_on
from ..inference.export import export
from ..inference.modelfile import (
    DEFAULT_MODEL,
    FAST_MODEL,
    SHIP_METRIC,
    card_path,
    load_landmarker,
    ship,
)
from ..nets import models
from . import cards, distil, evaluate, precision
from .recipes import recipe_data, recipe_loss, student_builder, warm_start
from .studies import trial
from .train import checkpoint_path


def onnx_speed(path: Path, model, settings) -> float | None:
    """ms/face at batch 1 without the mirror on ONNX Runtime, None where it is unavailable."""
    net = timing.onnx_or_none(path, model)
    return None if net is None else timing.ms_per_face(net, settings, 1, False, repeats=200)


def release(cfg: config.ReleaseConfig, name: str) -> dict:
    """Train, score, time and ship one release recipe; returns what results/<label>.json holds."""
    start = time.perf_counter()
    prec = precision.choose(cfg.precision)
    print(f"release ({name}): {cfg}\non {config.hardware()}, {prec.name} ({prec.reason})")
    data, loss = recipe_data(cfg), recipe_loss(cfg)
    shipped_model, shipped_settings = load_landmarker(DEFAULT_MODEL)
    shipped_card = json.loads(card_path(DEFAULT_MODEL).read_text())  # what it is compared with
    shipped_before = {
        "file": config.relative(DEFAULT_MODEL),
        "sha256": sha256_of(DEFAULT_MODEL),
        "model": shipped_card.get("model"),
        "notebook": shipped_card.get("notebook"),
    }
    build, train_loss, run_settings = student_builder(cfg), loss, {"profile": name, **asdict(cfg)}
    start_file = DEFAULT_MODEL.parent / cfg.model_file  # what from_shipped trains on from
    if cfg.from_shipped:  # refine a shipped model: the same network, its weights to start
        build = warm_start(build, load_landmarker(start_file)[0])
        run_settings["start_sha256"] = sha256_of(start_file)  # new weights: a new run
    if cfg.distill:  # the shipped model teaches; it must read the same crops the same way
        same = (shipped_settings.crop_size, shipped_settings.in_channels, shipped_settings.readout)
        if same != (cfg.crop_size, 3, loss.readout):
            raise ValueError(f"the teacher reads (crop, channels, readout) {same}: not these")
        build = distil.distiller(build, copy.deepcopy(shipped_model))
        train_loss = distil.DistillLoss(loss, cfg.distill)
        run_settings["teacher_sha256"] = shipped_before["sha256"]  # a new teacher: a new run
    checkpoint = checkpoint_path("release", run_settings)  # the same command resumes a kill
    run = trial(
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
        checkpoint=checkpoint,
        desc=f"{cfg.label} {cfg.architecture}",
    )
    model = (run.model.student if cfg.distill else run.model).cpu().float().eval()
    model = model.to(memory_format=torch.contiguous_format)  # as predict loads it
    points = partial(evaluate.crop_points, data=data.val, squares=data.val_squares)
    score = partial(evaluate.ibug_scores, true_px=data.true_px, subsets=data.subsets)
    scores = score(points(model, readout=loss.readout, perm=data.perm)[0])
    plain = score(points(model, readout=loss.readout, perm=None)[0])
    print(f"{cfg.label}: {scores.line()} (without the mirror: NME {100 * plain.mean:.2f}%)")

    calibration, _ = calibrate_on((read_image(f.image_path), f.box) for f in data.val_faces)
    settings = cards.model_settings(data, model.architecture, loss.readout)
    settings = settings.with_calibration(calibration)
    speed = tuple(timing.ms_per_face(model, settings, 1, m, repeats=50) for m in (False, True))
    shipped_speed = timing.ms_per_face(shipped_model, shipped_settings, 1, False, repeats=50)
    print(
        f"{speed[0]:.2f} ms/face without the mirror, {speed[1]:.2f} with it (batch 1, float32, "
        f"torch); the shipped model: {shipped_speed:.2f} without the mirror, in the same run"
    )

    own = (
        data
        if data.size == shipped_settings.crop_size
        else data.at_size(shipped_settings.crop_size)
    )
    shipped_on = partial(evaluate.crop_points, shipped_model, own.val, own.val_squares)
    shipped_points = shipped_on(shipped_settings.readout, data.perm)[0]  # at its own crop size
    shipped, regression = score(shipped_points), score(evaluate.part3_points(data.val_faces)[0])
    shipped_plain = score(shipped_on(shipped_settings.readout)[0])
    before = f"{DEFAULT_MODEL.name} before this run ({shipped_settings.architecture['name']})"
    curves = {"Part 3 regression": regression.nme, before: shipped.nme}
    fig = plots.plot_ced({**curves, f"{cfg.label} ({name})": scores.nme})
    ced_figure = plots.save_figure(fig, f"{cfg.label}_ced")
    print(ced_figure)
    fig = plots.plot_losses(run.history, f"{cfg.label} {cfg.architecture}", cfg.loss)
    print(plots.save_figure(fig, f"{cfg.label}_loss"))

    test_set, test_squares = data.test
    test_px, _ = evaluate.crop_points(model, test_set, test_squares, loss.readout, data.perm)
    boxes = [f.box for f in data.test_faces]
    csv = kaggle.write_submission(
        test_px, boxes, config.results_dir() / f"kaggle_submission_{cfg.label}.csv"
    )
    teacher_note = f", distilled from {DEFAULT_MODEL.name}" if cfg.distill else ""
    teacher_note += f", trained on from {start_file.name}" if cfg.from_shipped else ""
    fast = cfg.model_file == FAST_MODEL.name
    mirror_note = "read without the mirror by --fast" if fast else "mirror averaged in"
    description = (
        f"{cfg.label} {cfg.architecture} ({model.architecture}): 68 heatmaps at stride 4, "
        f"val_nme with the mirrored prediction, {mirror_note}{teacher_note}"
    )
    recipe = {"profile": name, **asdict(cfg)}
    card = cards.ibug_card(
        description,
        "helpers/training/release.py",
        data,
        recipe,
        scores,
        plain,
        speed,
        prec.name,
        run.history.seconds,
        False,
    )
    card["compared_on_the_same_faces"] = cards.compared(
        {before: shipped, "Part 3 regression": regression}
    )
    card["ced_figure"] = ced_figure
    shipped_onnx = onnx_speed(DEFAULT_MODEL, shipped_model, shipped_settings)  # before ship
    target = config.models_dir() / cfg.model_file
    shipped_now = ship(target, model, settings, card, mirrored=not fast)
    kept = f"kept: the model there scores as well or better ({SHIP_METRIC[not fast]})"
    print(f"{config.relative(target)}:", "written" if shipped_now else kept)
    onnx_ms = None
    if shipped_now:
        print(f"exported {config.relative(export(target))}")
        onnx_ms = onnx_speed(target, model, settings)
        if onnx_ms is not None and shipped_onnx is not None:
            print(f"ONNX Runtime: {onnx_ms:.2f} ms/face; the shipped model {shipped_onnx:.2f}")
    results = {
        **scores.as_dict(),
        "val_nme_without_mirrored_prediction": round(plain.mean, 5),
        "shipped_before": shipped_before,  # a rerun after shipping compares with itself
        "shipped_val_nme": round(shipped.mean, 5),
        "shipped_val_nme_without_mirrored_prediction": round(shipped_plain.mean, 5),
        "regression_val_nme": round(regression.mean, 5),
        "ms_per_face_batch1": round(speed[0], 2),
        "ms_per_face_batch1_mirrored": round(speed[1], 2),
        "shipped_ms_per_face_batch1": round(shipped_speed, 2),
        "onnx_ms_per_face_batch1": None if onnx_ms is None else round(onnx_ms, 2),
        "shipped_onnx_ms_per_face_batch1": None if shipped_onnx is None else round(shipped_onnx, 2),
        "parameters": models.count_parameters(model),
        "architecture": model.architecture,
        "shipped": shipped_now,
        "model_file": config.relative(target),
        "kaggle_file": config.relative(csv),
        "train_seconds": round(run.history.seconds, 1),
        "seconds": round(time.perf_counter() - start, 1),
        "hardware": config.hardware(),
        **prec.as_dict(),
        "settings": asdict(cfg),
        "profile": name,
        # per validation face, for the CED plots of notebook 5, the README and the write-up
        "val_nme_per_face": {
            label: [round(float(v), 5) for v in nme]
            for label, nme in {**curves, cfg.label: scores.nme}.items()
        },
    }
    print(plots.save_results(cfg.label, results))
    return results


def summary(results: dict) -> str:
    """A release's results (results/<label>.json) as the lines a person reads: recipe, time,
    scores with and without the mirror, by group and subset, cost, and what it is compared with."""

    def pct(value: float) -> str:
        return f"{100 * value:.2f}%"

    before = results["shipped_before"]
    return "\n".join(
        [
            f"release recipe: {results['settings']}",
            f"trained {results['train_seconds'] / 60:.0f} min on {results['hardware']} "
            f"({results['precision']})",
            f"validation NME {pct(results['val_nme'])} (without the mirror "
            f"{pct(results['val_nme_without_mirrored_prediction'])}), AUC@8% "
            f"{results['val_auc8']:.3f}, failure rate @8% {100 * results['val_failure8']:.1f}%",
            f"by group: { {g: pct(v) for g, v in results['val_nme_by_group'].items()} }",
            f"by subset: { {s: pct(v) for s, v in results['val_nme_by_subset'].items()} }",
            f"cost: {results['ms_per_face_batch1']:.2f} ms/face on torch, "
            f"{results['onnx_ms_per_face_batch1']} on ONNX Runtime (batch 1, no mirror, float32); "
            f"{results['parameters']:,} parameters",
            f"before it: {pct(results['shipped_val_nme'])} ({before['file']}: {before['model']}, "
            f"from {before['notebook']})",
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
