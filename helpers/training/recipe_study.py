"""The release's recipe study: candidate release recipes trained at equal wall-clock time, each
scored on the release's validation faces and timed, with the Pareto front of error and cost.

Usage: python -m helpers recipe-study [--profile full|quick] [--out DIR]

Each candidate of config.RECIPE_STUDIES[profile] trains from seed 0 for STUDY_SECONDS[profile]
(cosine decay over that time) and is scored with the mirror (NME, AUC@8%, failure rate @8%);
then every candidate's network is timed at batch 1 without the mirror, float32, on torch, in
the same interleaved rounds (so costs compare within one run). Finished candidates are kept in
results/recipe_study.json as they end: an interrupted study resumes at the next candidate, and
one whose recipe or budget changed runs again. A whole study trained on another machine is kept
as it is (only timed again here); one with anything left to train trains every candidate here,
so that no study mixes machines. Also writes figures/recipe_study.png. DIR is the repository for
full, runs/recipe-study-quick otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np

from .. import config, plots
from ..data.ibug_prep import IbugData
from ..inference import timing
from ..inference.modelfile import ModelSettings
from ..nets import models
from . import evaluate, precision
from .recipes import recipe_data, recipe_loss, student_builder
from .studies import trial

RESULTS = "recipe_study"
COST_LIMIT_MS = 10.0  # the limit on the shipped model's ms/face at batch 1, no mirror, float32


NETWORK_FIELDS = {"UNet": ("width", "depth", "stride"), "FastNet": ("width", "blocks")}


def with_network(settings: dict) -> dict:
    """Saved recipe settings with their network as one record, as ReleaseConfig holds it:
    settings saved with the network spelled out in flat fields (architecture, width, depth,
    stride, blocks) name the same network."""
    if not isinstance(settings.get("architecture"), str):
        return settings
    flat = {
        k: settings[k]
        for k in ("architecture", "width", "depth", "stride", "blocks")
        if k in settings
    }
    rest = {k: v for k, v in settings.items() if k not in flat}
    name = flat["architecture"]
    network = {"name": name, **{k: flat[k] for k in NETWORK_FIELDS[name] if k in flat}}
    return {**rest, "network": network}


def same_recipe(entry: dict, cfg: config.ReleaseConfig, seconds: float) -> bool:
    """Whether a saved entry was run with this recipe and budget (JSON turns tuples to lists).
    A setting added to ReleaseConfig after the entry was saved counts at its default, which
    changes nothing. Where it ran is the study's question (kept_entries), not the entry's."""
    defaults = asdict(config.ReleaseConfig())
    saved = json.dumps({**defaults, **with_network(entry.get("settings") or {})}, sort_keys=True)
    return saved == json.dumps(asdict(cfg), sort_keys=True) and entry.get("seconds") == seconds


def kept_entries(
    saved: dict[str, dict], candidates: dict[str, config.ReleaseConfig], seconds: float
) -> dict[str, dict]:
    """The saved entries the study keeps: those of the same recipe and budget, when they were
    all trained on one machine and nothing is left to train, since equal time is equal work only
    on one machine; otherwise only those trained on this one, and the rest train here."""
    kept = {
        n: saved[n]
        for n, cfg in candidates.items()
        if n in saved and same_recipe(saved[n], cfg, seconds)
    }
    machines = {entry.get("hardware") for entry in kept.values()}
    if len(kept) < len(candidates) or len(machines) > 1:
        kept = {n: e for n, e in kept.items() if e.get("hardware") == config.hardware()}
    return kept


def run_candidate(name: str, cfg: config.ReleaseConfig, data: IbugData, seconds: float) -> dict:
    """Train one candidate for `seconds` and score it on validation (cost_per_face times it)."""
    prec, loss = precision.choose(cfg.precision), recipe_loss(cfg)
    run = trial(
        student_builder(cfg),
        data.train,
        data.val,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        seconds=seconds,
        loss_fn=loss,
        bf16=prec.bf16,
        drop_last=True,
        workers=config.loader_workers(),
        desc=name,
    )
    model = models.for_inference(run.model)
    pred, _ = evaluate.crop_points(model, data.val, data.val_squares, loss.readout, data.perm)
    scores = evaluate.ibug_scores(pred, data.true_px, data.subsets)
    passes = len(run.history.val)
    print(f"{name}: {scores.line()} | {passes} passes in {seconds:.0f} s")
    return {
        **scores.as_dict(),
        "parameters": models.count_parameters(model),
        "passes": passes,
        "seconds_per_pass": round(float(np.median(np.diff([0.0, *run.history.times]))), 1),
        "seconds": seconds,
        "settings": asdict(cfg),
        "hardware": config.hardware(),
        **prec.as_dict(),
    }


def cost_per_face(candidates: dict[str, config.ReleaseConfig]) -> dict[str, float]:
    """ms/face at batch 1 without the mirror, float32, torch, of each candidate's network
    (fresh: its cost does not depend on its weights), all timed in the same interleaved
    rounds at the end of the study, on this machine now; recipes that share a network share
    its timing, so that identical networks never show different costs."""
    network_of, timers = {}, {}
    for name, cfg in candidates.items():
        net, readout = models.for_inference(student_builder(cfg)()), recipe_loss(cfg).readout
        key = json.dumps([net.architecture, cfg.crop_size, readout], sort_keys=True)
        network_of[name] = key
        if key not in timers:  # the crop's factor and shift do not change the cost
            settings = ModelSettings(net.architecture, readout, cfg.crop_size, 1.0, 0.0)
            timers[key] = partial(timing.ms_per_face, net, settings, 1, False, 100)
    print(f"timing {len(timers)} networks, batch 1, in {timing.ROUNDS} interleaved rounds")
    medians = timing.interleaved(timers)
    return {name: medians[key] for name, key in network_of.items()}


def study(profile: str) -> dict[str, dict]:
    """Run (or resume) the profile's study; returns each candidate's entry."""
    candidates, seconds = config.RECIPE_STUDIES[profile], config.STUDY_SECONDS[profile]
    path = config.results_dir() / f"{RESULTS}.json"
    saved = json.loads(path.read_text()) if path.is_file() else {}
    saved = saved.get("candidates", {}) if saved.get("profile") == profile else {}
    print(f"recipe study ({profile}): {len(candidates)} candidates, {seconds:.0f} s each")
    print(f"on {config.hardware()}")
    entries, data_by_recipe, kept = {}, {}, kept_entries(saved, candidates, seconds)
    for name, cfg in candidates.items():
        if name in kept:
            entries[name] = kept[name]
            trained_on = kept[name].get("hardware", "an unrecorded machine")
            print(f"{name}: kept from {config.relative(path)} (trained on {trained_on})")
            continue
        key = (cfg.crop_size, cfg.augmentation, cfg.max_train_faces)
        if key not in data_by_recipe:
            data_by_recipe[key] = recipe_data(cfg)
        entries[name] = run_candidate(name, cfg, data_by_recipe[key], seconds)
        so_far = {**saved, **entries}  # a kill now loses no candidate, finished or kept
        path.write_text(json.dumps({"profile": profile, "candidates": so_far}, indent=2) + "\n")
    for name, ms in cost_per_face(candidates).items():  # every candidate in the same rounds
        entries[name]["ms_per_face_batch1"] = round(ms, 2)
    front = plots.pareto_front(cost_and_error(entries))
    print(f"Pareto front (ms/face, NME): {', '.join(front)}")
    print(plots.save_results(RESULTS, {"profile": profile, "candidates": entries, "front": front}))
    return entries


def cost_and_error(entries: dict[str, dict]) -> dict[str, tuple[float, float]]:
    """Each candidate's (ms/face, NME in %), as plots.plot_pareto takes them."""
    return {n: (e["ms_per_face_batch1"], 100 * e["val_nme"]) for n, e in entries.items()}


def table(entries: dict[str, dict]) -> str:
    """The candidates as a printable table: scores, the outline's NME, size, cost, passes."""
    lines = [
        f"{'candidate':<24}{'NME':>7}{'AUC@8%':>8}{'fail':>6}{'jaw':>7}"
        f"{'params':>11}{'ms/face':>9}{'passes':>8}"
    ]
    for name, e in entries.items():
        lines.append(
            f"{name:<24}{100 * e['val_nme']:>6.2f}%{e['val_auc8']:>8.3f}"
            f"{100 * e['val_failure8']:>5.1f}%{100 * e['val_nme_by_group']['jaw']:>6.2f}%"
            f"{e['parameters']:>11,}{e['ms_per_face_batch1']:>9.2f}{e.get('passes', '-'):>8}"
        )
    return "\n".join(lines)


def plot_study(entries: dict[str, dict]):
    """The study's Pareto plot: validation NME against ms/face, the 10 ms limit dashed."""
    fig = plots.plot_pareto(cost_and_error(entries), COST_LIMIT_MS)
    seconds = {e["seconds"] for e in entries.values()}
    fig.axes[0].set(
        xlabel="ms/face (batch 1, no mirror, float32, torch)",
        ylabel="validation NME (%)",
        title=f"Recipes at equal time ({', '.join(f'{s:.0f}' for s in seconds)} s each)",
    )
    return fig


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(config.RECIPE_STUDIES), default="full")
    parser.add_argument("--out", type=Path, help="where results/ and figures/ go")
    args = parser.parse_args(argv)
    default = config.REPO_ROOT if args.profile == "full" else config.REPO_ROOT / "runs"
    out = args.out or (default if args.profile == "full" else default / "recipe-study-quick")
    os.environ["FKD_OUTPUT_DIR"] = str(out.resolve())
    try:
        entries = study(args.profile)
    except FileNotFoundError as err:  # no data: say where it was looked for
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(plots.save_figure(plot_study(entries), RESULTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
