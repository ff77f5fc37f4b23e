"""The release training run of the shipped 300-W landmark model: one command, resumable.

Usage: python -m helpers.release [--profile full|quick] [--out DIR]

Trains config.RELEASES[profile] on the 300-W training split of notebooks 3 and 4 (the same 221
validation faces), with a checkpoint after every epoch: killed at any point, the same command
resumes and ends with the same result. Then it scores the model on validation (NME, AUC@8%,
failure rate, by group and subset, with and without the mirror), times it (ms/face, batch 1,
float32), and writes, under DIR (the repository for full, runs/release-quick for quick):
results/release.json, figures/release_ced.png (beside the shipped model and Part 3's
regression) and figures/release_loss.png, results/kaggle_submission_release.csv, and the model
with its card through modelfile.ship, which replaces models/landmarks68.pt only if it is better.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

from . import benchmark, cards, config, evaluate, kaggle, losses, models, plots, precision
from .detect import calibrate_on
from .ibug import NUM_POINTS
from .ibug_prep import prepare
from .images import read_image
from .modelfile import DEFAULT_MODEL, load_landmarker, ship
from .studies import trial
from .train import checkpoint_path


def release(cfg: config.ReleaseConfig, name: str) -> dict:
    """Train, score, time and ship one release recipe; returns what results/release.json holds."""
    start = time.perf_counter()
    prec = precision.choose(cfg.precision)
    print(f"release ({name}): {cfg}\non {config.hardware()}, {prec.name} ({prec.reason})")
    ibug_cfg = config.IbugConfig(crop_size=cfg.crop_size, augmentation=cfg.augmentation)
    data = prepare(ibug_cfg, cfg.max_train_faces)
    loss = losses.HeatmapLoss(cfg.loss, cfg.sigma)
    unet = partial(models.UNet, NUM_POINTS, 3, cfg.width, depth=cfg.depth, stride=cfg.stride)
    checkpoint = checkpoint_path("release", {"profile": name, **asdict(cfg)})  # resumes a kill
    run = trial(
        unet,
        data.train,
        data.val,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        epochs=cfg.epochs,
        loss_fn=loss,
        scheduler="cosine",
        bf16=prec.bf16,
        drop_last=True,
        workers=config.loader_workers(),
        checkpoint=checkpoint,
        desc="release UNet",
    )
    model = run.model.cpu().float().eval()
    points = partial(evaluate.crop_points, data=data.val, squares=data.val_squares)
    score = partial(evaluate.ibug_scores, true_px=data.true_px, subsets=data.subsets)
    scores = score(points(model, readout=loss.readout, perm=data.perm)[0])
    plain = score(points(model, readout=loss.readout, perm=None)[0])
    print(f"release: {scores.line()} (without the mirror: NME {100 * plain.mean:.2f}%)")

    calibration, _ = calibrate_on((read_image(f.image_path), f.box) for f in data.val_faces)
    settings = data.settings(model.architecture, loss.readout).with_calibration(calibration)
    speed = tuple(benchmark.ms_per_face(model, settings, 1, m, repeats=50) for m in (False, True))
    print(f"{speed[0]:.2f} ms/face without the mirror, {speed[1]:.2f} with it (batch 1, float32)")

    shipped_model, shipped_settings = load_landmarker(DEFAULT_MODEL)
    shipped = score(points(shipped_model, readout=shipped_settings.readout, perm=data.perm)[0])
    regression = score(evaluate.part3_points(data.val_faces)[0])
    curves = {"Part 3 regression": regression.nme, "shipped before": shipped.nme}
    fig = plots.plot_ced({**curves, f"release ({name})": scores.nme})
    print(plots.save_figure(fig, "release_ced"))
    print(
        plots.save_figure(plots.plot_losses(run.history, "release UNet", loss.kind), "release_loss")
    )

    test_set, test_squares = data.test
    test_px, _ = evaluate.crop_points(model, test_set, test_squares, loss.readout, data.perm)
    boxes = [f.box for f in data.test_faces]
    csv = kaggle.write_submission(
        test_px, boxes, config.results_dir() / "kaggle_submission_release.csv"
    )
    description = (
        f"release UNet (width {cfg.width}, depth {cfg.depth}): 68 heatmaps at stride "
        f"{cfg.stride}, mirrored prediction averaged in"
    )
    recipe = {"profile": name, **asdict(cfg)}
    card = cards.ibug_card(
        description,
        "helpers/release.py",
        data,
        recipe,
        scores,
        plain,
        speed,
        prec.name,
        run.history.seconds,
        False,
    )
    target = config.models_dir() / DEFAULT_MODEL.name
    shipped_now = ship(target, model, settings, card)
    kept = "kept: the model there has a lower NME"
    print(f"{config.relative(target)}:", "written" if shipped_now else kept)
    results = {
        **scores.as_dict(),
        "val_nme_without_mirrored_prediction": round(plain.mean, 5),
        "shipped_before_val_nme": round(shipped.mean, 5),
        "regression_val_nme": round(regression.mean, 5),
        "ms_per_face_batch1": round(speed[0], 2),
        "ms_per_face_batch1_mirrored": round(speed[1], 2),
        "parameters": models.count_parameters(model),
        "architecture": model.architecture,
        "shipped": shipped_now,
        "kaggle_file": config.relative(csv),
        "train_seconds": round(run.history.seconds, 1),
        "seconds": round(time.perf_counter() - start, 1),
        **prec.as_dict(),
        "settings": asdict(cfg),
        "profile": name,
    }
    print(plots.save_results("release", results))
    return results


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(config.RELEASES), default="full")
    parser.add_argument("--out", type=Path, help="where results/, figures/ and models/ go")
    args = parser.parse_args(argv)
    out = args.out or (
        config.REPO_ROOT if args.profile == "full" else config.REPO_ROOT / "runs/release-quick"
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
