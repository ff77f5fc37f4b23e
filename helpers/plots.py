"""Figures: faces with keypoints, loss curves, studies and filters; and saving them."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import torch

from .config import REPO_ROOT, figures_dir, hardware, relative, results_dir
from .files import atomic_write
from .geometry import auc, ced, failure_rate, mirror_in_place

if TYPE_CHECKING:  # the figures read a training history; plotting does not import training
    from .training.train import History

TRUE_STYLE = dict(c="lime", edgecolors="black", linewidths=0.5, label="ground truth")
PRED_STYLE = dict(c="red", marker="x", label="prediction")


def show_image(ax, image) -> None:
    """Draw a model input (C, H, W in [-0.5, 0.5]) or a uint8 image on an axis."""
    image = image.numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if image.ndim == 3 and image.shape[0] in (1, 3):
        image = np.moveaxis(image, 0, -1)
    if image.dtype != np.uint8:
        image = np.clip(image + 0.5, 0, 1)
    top = 255 if image.dtype == np.uint8 else 1  # fixed range: a flat image stays flat
    gray = image.squeeze().ndim == 2
    ax.imshow(image.squeeze(), cmap="gray" if gray else None, vmin=0, vmax=top)
    ax.set_axis_off()


def show_faces(
    images: Sequence,
    truth: Sequence[np.ndarray] | None = None,
    pred: Sequence[np.ndarray] | None = None,
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    size: float = 3.5,
    marker_size: float = 40,
    other: tuple[str, Sequence[np.ndarray]] | None = None,
    zoom: Sequence[np.ndarray] | None = None,
):
    """A grid of faces with ground truth (green dots) and predictions (red crosses); `other`
    (label, points per face) adds a second model's predictions as blue pluses; `zoom` shows
    each face's square (left, top, side) only."""
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * 0.8 * nrows), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        if i >= len(images):
            ax.set_axis_off()
            continue
        show_image(ax, images[i])
        if truth is not None:
            ax.scatter(*np.asarray(truth[i]).reshape(-1, 2).T, s=marker_size, **TRUE_STYLE)
        if pred is not None:
            ax.scatter(*np.asarray(pred[i]).reshape(-1, 2).T, s=marker_size, **PRED_STYLE)
        if other is not None:
            points = np.asarray(other[1][i]).reshape(-1, 2)
            ax.scatter(*points.T, s=marker_size, c="deepskyblue", marker="+", label=other[0])
        if zoom is not None:
            left, top, side = zoom[i]
            ax.set(xlim=(left, left + side), ylim=(top + side, top))
        if titles is not None:
            ax.set_title(titles[i], fontsize=10)
    if truth is not None or pred is not None:
        axes.flat[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def show_heatmaps(
    images: Sequence,
    maps: Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    ncols: int = 4,
    size: float = 3.5,
):
    """Faces with their heatmaps (K, h, w) laid over them: each pixel shows the strongest of
    the K maps, stretched over the image so that map pixel centres land on their input pixels."""
    nrows = math.ceil(len(images) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * 0.8 * nrows), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= len(images):
            continue
        show_image(ax, images[i])
        height, width = np.asarray(images[i]).shape[-2:]
        strongest = torch.as_tensor(maps[i]).float().amax(0).clamp(min=0).numpy()
        extent = (-0.5, width - 0.5, height - 0.5, -0.5)  # edges of the image's outer pixels
        ax.imshow(strongest, cmap="inferno", alpha=0.55, extent=extent, vmin=0)
        if titles is not None:
            ax.set_title(titles[i], fontsize=10)
    fig.tight_layout()
    return fig


def show_mirror_check(shape: np.ndarray, perm: np.ndarray, labels=(0, 13, 29, 39, 52)):
    """A shape and its mirror image, before and after re-indexing by perm.

    Grey lines join each point to the mirrored point with the same index: they cross the face
    before re-indexing and vanish after it when perm is right.
    """
    mirrored = mirror_in_place(shape)
    lo, hi = shape.min(0) - 40, shape.max(0) + 40
    canvas = np.full((int(hi[1]) + 1, int(hi[0]) + 1), 255, np.uint8)
    fig = show_faces(
        [canvas, canvas],
        truth=[shape, shape],
        pred=[mirrored, mirrored[perm]],
        titles=[
            "mirrored, same indices: lines join each index to its mirror",
            "mirrored, re-indexed by perm: the lines vanish",
        ],
        ncols=2,
        size=6,
        marker_size=30,
    )
    for ax, other in zip(fig.axes, [mirrored, mirrored[perm]], strict=True):
        xs, ys = np.stack([shape[:, 0], other[:, 0]]), np.stack([shape[:, 1], other[:, 1]])
        ax.plot(xs, ys, color="gray", lw=0.6)
        for i in labels:  # written at the mirrored point that carries the index
            ax.annotate(
                str(i), other[i], color="red", fontsize=9, xytext=(3, 3), textcoords="offset points"
            )
        ax.set(xlim=(lo[0], hi[0]), ylim=(hi[1], lo[1]))
    fig.axes[0].legend(["original", "mirrored"], loc="lower left", fontsize=8)
    return fig


def plot_losses(history: History, title: str = "Loss", ylabel: str = "MSE loss"):
    """Training and validation loss per epoch (log scale)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = np.arange(1, len(history.train) + 1)
    ax.plot(epochs, history.train, "o-", label="training")
    ax.plot(epochs, history.val, "s-", label="validation")
    ax.set(xlabel="epoch", ylabel=ylabel, yscale="log", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_studies(
    studies: Mapping[str, Mapping[str, History]], ylabel: str = "MSE loss", against_time=False
):
    """One panel per study (e.g. learning rate, channels), one colour per setting; against
    epochs, or against wall-clock seconds for studies run at equal time."""
    fig, axes = plt.subplots(1, len(studies), figsize=(6 * len(studies), 4), squeeze=False)
    for ax, (study, runs) in zip(axes.flat, studies.items(), strict=True):
        for (label, hist), color in zip(
            runs.items(), plt.cm.viridis(np.linspace(0, 0.9, len(runs))), strict=True
        ):
            x = np.asarray(hist.times) if against_time else np.arange(1, len(hist.train) + 1)
            ax.plot(x, hist.train, "--", color=color, alpha=0.6)  # markers: a one-pass run shows
            ax.plot(x, hist.val, "-", marker="o", markersize=3, color=color, label=f"{label}")
        ax.set(
            xlabel="wall-clock seconds" if against_time else "epoch",
            ylabel=ylabel,
            yscale="log",
            title=f"{study} (dashed: train, solid: val)",
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ced(curves: Mapping[str, np.ndarray], limit: float = 0.08):
    """Cumulative error distributions (fraction of faces against NME) up to `limit`, with
    each curve's AUC and failure rate in its label."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    grid = np.linspace(0, limit, 400)
    for label, nmes in curves.items():
        stats = f"AUC@{limit:.0%} {auc(nmes, limit):.3f}, failures {failure_rate(nmes, limit):.1%}"
        ax.plot(100 * grid, ced(nmes, grid), label=f"{label} ({stats})")
    ax.set(xlabel="NME (%)", ylabel="fraction of faces", xlim=(0, 100 * limit), ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def pareto_front(points: Mapping[str, tuple[float, float]]) -> list[str]:
    """The names whose (cost, error) no other point beats on both, cheapest first."""
    front = [
        a
        for a, (ca, ea) in points.items()
        if not any(cb <= ca and eb <= ea and (cb, eb) != (ca, ea) for cb, eb in points.values())
    ]
    return sorted(front, key=lambda name: points[name][0])


def plot_pareto(points: Mapping[str, tuple[float, float]], limit: float | None = None):
    """Error against cost for named candidates (cost, error), the Pareto front joined, and
    a cost limit as a dashed line."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, (cost, error) in points.items():
        ax.plot(cost, error, "o", color="tab:blue")
        ax.annotate(name, (cost, error), textcoords="offset points", xytext=(5, 4), fontsize=8)
    front = pareto_front(points)
    ax.plot(*zip(*(points[n] for n in front), strict=True), "-", color="tab:orange", zorder=0)
    if limit is not None:
        ax.axvline(limit, ls="--", color="gray", label=f"limit {limit:g}")
        ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def show_filters(weight: torch.Tensor, ncols: int = 8):
    """Conv filters (out, in, kh, kw) as a grid of images, each scaled on its own."""
    weight = weight.detach().cpu().float().mean(dim=1)
    nrows = math.ceil(len(weight) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.5 * ncols, 1.5 * nrows), squeeze=False)
    for ax, w in zip(axes.flat, list(weight) + [None] * (nrows * ncols - len(weight)), strict=True):
        ax.set_axis_off()
        if w is not None:
            ax.imshow(w.numpy(), cmap="RdBu_r", vmin=-w.abs().max(), vmax=w.abs().max())
    fig.tight_layout()
    return fig


def save_figure(fig, name: str) -> str:
    """Save under figures/ as <name>.png (the notebook still shows it inline) and return the
    path relative to the repository."""
    path = figures_dir() / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return relative(path)


def save_results(name: str, results: dict) -> str:
    """Write results/<name>.json with the hardware added; return the path relative to the
    repository."""
    path = results_dir() / f"{name}.json"
    atomic_write(path, json.dumps({**results, "hardware": hardware()}, indent=2) + "\n")
    return relative(path)


def load_results(name: str) -> dict:
    """results/<name>.json of this run's output folder, else the committed one: how a later
    notebook quotes an earlier one's numbers."""
    path = results_dir() / f"{name}.json"
    path = path if path.is_file() else REPO_ROOT / "results" / f"{name}.json"
    return json.loads(path.read_text())
