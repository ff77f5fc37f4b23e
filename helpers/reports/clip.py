"""A video clip with ground truth, and how tracking does on it.

Usage: python -m helpers clip [--fast] [--no-mirror] [--model PATH] [--runtime R] [--out DIR]

A real validation face of 300-W is moved across a 640x480 frame by known smooth similarity
transforms: a pan, a zoom, an in-plane rotation to +-25 degrees, a still stretch, then it
leaves the frame and comes back. Sensor noise is added to every frame, so the true points of
every frame are known. The same frames then go through the tracker (helpers.inference.video)
with and without One Euro smoothing, and through the detector on every frame; it reports
per-frame NME, jitter on the still stretch (RMS frame-to-frame motion of the points over the
eye distance), the frames it takes to find the face again, stale points drawn while the face is
away, and frames per second end to end (decode, track, draw, encode) for a clip on disk. It writes
results/video.json and figures/video_strip.png for the shipped model, mirrored; other runs add
a suffix (video_fast.json and video_strip_fast.png for --fast; output_suffix).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..config import hardware, relative
from ..data import ibug_prep
from ..geometry import nme
from ..images import read_image
from ..inference.modelfile import DEFAULT_MODEL

FRAME = (640, 480)  # (W, H)
FPS = 30.0
# (segment, frames, start and end of (dx, dy) in px from the frame's centre, zoom, degrees)
SEGMENTS = (
    ("pan", 45, (-140, -20, 1.0, 0), (140, 20, 1.0, 0)),
    ("zoom", 45, (140, 20, 1.0, 0), (0, 0, 1.5, 0)),
    ("zoom back", 30, (0, 0, 1.5, 0), (0, 0, 0.9, 0)),
    ("rotate", 30, (0, 0, 0.9, 0), (0, 0, 1.0, 25)),
    ("rotate back", 45, (0, 0, 1.0, 25), (0, 0, 1.0, -25)),
    ("upright", 20, (0, 0, 1.0, -25), (0, 0, 1.0, 0)),
    ("still", 60, (0, 0, 1.0, 0), (0, 0, 1.0, 0)),
    ("leave", 25, (0, 0, 1.0, 0), (560, 0, 1.0, 0)),
    ("away", 20, (560, 0, 1.0, 0), (560, 0, 1.0, 0)),
    ("return", 25, (560, 0, 1.0, 0), (0, 0, 1.0, 0)),
    ("settle", 30, (0, 0, 1.0, 0), (0, 0, 1.0, 0)),
)
NOISE = 4.0  # sensor noise, grey levels (sigma)
FAILURE = 0.08  # NME over which a frame's points have not found the face (geometry.failure_rate)
FACE_WIDTH = 170  # px: the outer eye corners end up about 70 px apart at zoom 1


@dataclass
class Clip:
    """Frames, the true points of each, and the segment of each frame."""

    frames: list[np.ndarray]
    truth: np.ndarray
    segments: list[str]

    def _inside(self) -> np.ndarray:
        width, height = FRAME
        return ((self.truth >= 0) & (self.truth <= [width - 1, height - 1])).all(-1)

    @property
    def visible(self) -> np.ndarray:
        """Frames where the whole face is in the frame: these are scored."""
        return self._inside().all(-1)

    @property
    def gone(self) -> np.ndarray:
        """Frames where no point of the face is in the frame: no point may be drawn."""
        return ~self._inside().any(-1)


def transforms() -> list[tuple[str, tuple[float, float, float, float]]]:
    """(segment, (dx, dy, zoom, degrees)) for every frame, eased smoothly within segments."""
    out = []
    for name, count, start, end in SEGMENTS:
        for i in range(count):
            w = 0.5 - 0.5 * math.cos(math.pi * i / max(count - 1, 1))  # ease in and out
            out.append((name, tuple(a + w * (b - a) for a, b in zip(start, end, strict=True))))
    return out


def pil_affine(matrix: np.ndarray, offset: np.ndarray) -> tuple[float, ...]:
    """PIL's AFFINE coefficients (output to input) for out = matrix @ in + offset in this
    package's convention. PIL puts pixel centres at i + 0.5 on both sides, hence the shifts."""
    inverse = np.linalg.inv(matrix)
    shift = inverse @ (-0.5 - np.asarray(offset, dtype=np.float64)) + 0.5
    return (inverse[0, 0], inverse[0, 1], shift[0], inverse[1, 0], inverse[1, 1], shift[1])


def make_clip(image: np.ndarray, points: np.ndarray, seed: int = 0) -> Clip:
    """The clip of one face (image and its 68 points), over a fixed textured background."""
    rng = np.random.default_rng(seed)
    width, height = FRAME
    coarse = rng.uniform(60, 200, (height // 40 + 1, width // 40 + 1, 3)).astype(np.uint8)
    background = Image.fromarray(coarse).resize(FRAME, Image.Resampling.BICUBIC)
    source = Image.fromarray(image).convert("RGB")
    mask = Image.new("L", source.size, 255)
    centre = points.mean(0)
    base = FACE_WIDTH / (points[:, 0].max() - points[:, 0].min())
    frames, truth, segments = [], [], []
    for name, (dx, dy, zoom, degrees) in transforms():
        scale, angle = base * zoom, math.radians(degrees)
        cos, sin = math.cos(angle), math.sin(angle)
        rotation = scale * np.array([[cos, sin], [-sin, cos]])  # image y points down
        offset = np.array([width / 2 + dx, height / 2 + dy]) - rotation @ centre
        coeffs = pil_affine(rotation, offset)
        moved = source.transform(FRAME, Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
        cover = mask.transform(FRAME, Image.Transform.AFFINE, coeffs, Image.Resampling.BILINEAR)
        frame = np.asarray(Image.composite(moved, background, cover), dtype=np.float32)
        frame = frame + rng.normal(0, NOISE, frame.shape)
        frames.append(np.clip(frame.round(), 0, 255).astype(np.uint8))
        truth.append(points @ rotation.T + offset)
        segments.append(name)
    return Clip(frames, np.stack(truth).astype(np.float32), segments)


def clip_from_validation(index: int = 0) -> Clip:
    """The clip of a validation face of 300-W (the split of notebooks 3 and 4), its whole image."""
    face = ibug_prep.split()[1][index]
    return make_clip(read_image(face.image_path), face.points)


# BT.601 in studio range, as browsers and cameras read 4:2:0 video: RGB (0-1) to Y, Cb, Cr
_YCC = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]])
STAMP_BITS, STAMP_BLOCK = 16, 8  # a frame number as white and black 8x8 blocks along the top


def stamp(frame: np.ndarray, number: int) -> np.ndarray:
    """A copy of a frame with its number written along its top-left edge, bit k in the k-th
    8x8 block (white 1, black 0), so that a page fed the clip by a fake camera can tell which
    frame it has."""
    out = frame.copy()
    for bit in range(STAMP_BITS):
        x = bit * STAMP_BLOCK
        out[:STAMP_BLOCK, x : x + STAMP_BLOCK] = 255 if number >> bit & 1 else 0
    return out


def to_yuv420(frame: np.ndarray) -> np.ndarray:
    """An RGB frame (H, W even) as one I420 frame's bytes: Y, then Cb and Cr at half size."""
    ycc = frame.astype(np.float64) / 255 @ _YCC.T + [16, 128, 128]
    height, width = frame.shape[:2]
    chroma = ycc[..., 1:].reshape(height // 2, 2, width // 2, 2, 2).mean((1, 3))
    planes = [ycc[..., 0], chroma[..., 0], chroma[..., 1]]
    return np.concatenate([np.clip(p.round(), 0, 255).astype(np.uint8).ravel() for p in planes])


def from_yuv420(data: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The RGB frame of one I420 frame's bytes (the inverse of to_yuv420, up to rounding and
    the chroma's half resolution): what a browser shows of it."""
    width, height = size
    y = data[: width * height].reshape(height, width).astype(np.float64)
    chroma = data[width * height :].reshape(2, height // 2, width // 2).astype(np.float64)
    full = chroma.repeat(2, axis=1).repeat(2, axis=2)
    ycc = np.stack([y, full[0], full[1]], -1) - [16, 128, 128]
    return np.clip((ycc @ np.linalg.inv(_YCC).T * 255).round(), 0, 255).astype(np.uint8)


def write_y4m(path: Path, frames: list[np.ndarray], fps: float = FPS, stamped: bool = True):
    """The frames as an uncompressed YUV4MPEG2 file (4:2:0), which Chromium's fake camera
    plays in a loop; stamped: each with its number (stamp). Returns the path."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F{round(fps)}:1 Ip A1:1 C420jpeg\n".encode())
        for i, frame in enumerate(frames):
            fh.write(b"FRAME\n" + to_yuv420(stamp(frame, i) if stamped else frame).tobytes())
    return Path(path)


def interocular(points: np.ndarray) -> np.ndarray:
    """The outer-eye-corner distance of each frame's true points (NME's normaliser)."""
    return np.linalg.norm(points[:, 36] - points[:, 45], axis=-1)


def score(clip: Clip, predicted: list[np.ndarray | None]) -> dict:
    """Per-frame NME where the whole face is in the frame (a missed frame counts apart), stale
    frames (points drawn while no part of the face is in the frame), and frames to find it
    again once it is wholly back."""
    visible, gone = clip.visible, clip.gone
    found = np.array([p is not None for p in predicted])
    errors = np.full(len(predicted), np.nan)
    for i, points in enumerate(predicted):
        if points is not None and visible[i]:
            errors[i] = nme(points[None], clip.truth[i][None])[0]
    back = next(i for i in range(len(visible)) if clip.segments[i] == "return" and visible[i])
    found_again = errors <= FAILURE  # not a failure, as the 300-W summary counts one
    again = next((i for i in range(back, len(errors)) if found_again[i]), len(errors))
    return {
        "nme": float(np.nanmean(errors)),
        "nme_by_segment": {
            s: round(float(np.nanmean(errors[[g == s for g in clip.segments]])), 5)
            for s in dict.fromkeys(clip.segments)
            if np.isfinite(errors[[g == s for g in clip.segments]]).any()
        },
        "frames_with_face": int(visible.sum()),
        "missed_frames": int((visible & ~found).sum()),
        "frames_gone": int(gone.sum()),
        "stale_frames": int((gone & found).sum()),
        "frames_to_find_again": again - back,
    }


def jitter(clip: Clip, predicted: list[np.ndarray | None], segment: str = "still") -> float:
    """RMS frame-to-frame motion of the points on a still segment, over the eye distance."""
    frames = [i for i, s in enumerate(clip.segments) if s == segment]
    moves = [
        np.linalg.norm(predicted[i] - predicted[i - 1], axis=-1) / interocular(clip.truth[[i]])
        for i in frames[1:]
        if predicted[i] is not None and predicted[i - 1] is not None
    ]
    return float(np.sqrt(np.mean(np.square(moves))))


def run(clip: Clip, tracker) -> tuple[list[np.ndarray | None], float]:
    """The tracker's points on every frame (None: no face) and its frames per second."""
    start, predicted = time.perf_counter(), []
    for i, frame in enumerate(clip.frames):
        step = tracker.step(frame, i / FPS)
        predicted.append(None if step.face is None else step.face.points)
    return predicted, len(clip.frames) / (time.perf_counter() - start)


def end_to_end_fps(clip: Clip, make_tracker, overlap: bool = True) -> float:
    """Frames per second from an .mp4 on disk to an .mp4 with points: decode, track, draw,
    encode (helpers.inference.video.track), for the clip's frames; the decoding and encoding on
    threads of their own beside the tracking with overlap, one after the other without."""
    from ..inference.video import read_frames, track, write_video

    with tempfile.TemporaryDirectory() as folder:
        source = write_video(Path(folder) / "clip.mp4", clip.frames, FPS)
        out = Path(folder) / "out.mp4"
        return track(read_frames(source), make_tracker(), out, overlap=overlap)["fps"]


def measure(landmarker, min_cutoff: float = 0.3, beta: float = 0.2) -> dict:
    """Tracking (smoothed and raw) against detecting every frame, on the validation clip."""
    from ..inference.video import OneEuro, Tracker

    clip = clip_from_validation()
    trackers = {
        "tracking, smoothed": lambda: Tracker(landmarker, OneEuro(min_cutoff, beta)),
        "tracking, raw": lambda: Tracker(landmarker),
        "detecting every frame": lambda: Tracker(landmarker, detect_every_frame=True),
    }
    warm_up = Clip(clip.frames[:30], clip.truth[:30], clip.segments[:30])
    run(warm_up, Tracker(landmarker))  # a runtime's first calls are slow: not timed
    results, points = {}, {}
    for name, make in trackers.items():
        points[name], fps = run(clip, make())
        results[name] = {**score(clip, points[name]), "jitter": jitter(clip, points[name])}
        results[name]["fps_in_memory"] = round(fps, 1)
    smoothed, raw = results["tracking, smoothed"], results["tracking, raw"]
    results["smoothing_cuts_jitter_by"] = raw["jitter"] / smoothed["jitter"]
    results["smoothing_nme_change_pp"] = 100 * (smoothed["nme"] - raw["nme"])
    smoothing = trackers["tracking, smoothed"]
    fps = [end_to_end_fps(clip, smoothing, o) for _ in range(2) for o in (True, False)]
    results["fps_end_to_end_640x480"] = round(max(fps[0::2]), 1)  # the better of two rounds
    results["fps_end_to_end_640x480_sequential"] = round(max(fps[1::2]), 1)  # in the same run
    results["one_euro"] = {"min_cutoff_hz": min_cutoff, "beta": beta}
    results["frames"], results["runtime"] = len(clip.frames), landmarker.runtime
    return results, clip, points["tracking, smoothed"]


def strip(clip: Clip, predicted: list[np.ndarray | None], picks=None):
    """A strip of frames with the tracked points (red) and the truth (green)."""
    import matplotlib.pyplot as plt

    at = {"pan": 0.5, "zoom back": 0.0, "rotate back": 0.0, "still": 0.5, "away": 0.5, "settle": 1}
    picks = picks or [
        clip.segments.index(n) + min(int(w * SEGMENTS_LEN[n]), SEGMENTS_LEN[n] - 1)
        for n, w in at.items()
    ]
    fig, axes = plt.subplots(1, len(picks), figsize=(3.2 * len(picks), 2.6))
    for ax, i in zip(axes, picks, strict=True):
        ax.imshow(clip.frames[i])
        if clip.visible[i]:
            ax.scatter(*clip.truth[i].T, s=3, c="lime")
        if predicted[i] is not None:
            ax.scatter(*predicted[i].T, s=3, c="red")
        ax.set_title(f"frame {i}: {clip.segments[i]}", fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


SEGMENTS_LEN = {name: count for name, count, *_ in SEGMENTS}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    from ..inference.predict import add_model_options, landmarker_from
    from ..plots import save_figure, save_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_options(parser)
    parser.add_argument("--out", type=Path, help="where results/ and figures/ go (default: here)")
    parser.add_argument("--min-cutoff", type=float, default=0.3, help="One Euro, Hz")
    parser.add_argument("--beta", type=float, default=0.2, help="One Euro speed coefficient")
    args = parser.parse_args(argv)
    if args.out:
        os.environ["FKD_OUTPUT_DIR"] = str(args.out.resolve())
    start, landmarker = time.perf_counter(), landmarker_from(args)
    mirrored = landmarker.settings.flip_perm is not None
    results, clip, smoothed = measure(landmarker, args.min_cutoff, args.beta)
    for name in ("tracking, smoothed", "tracking, raw", "detecting every frame"):
        r = results[name]
        print(
            f"{name:22s} NME {100 * r['nme']:.2f}% | jitter {100 * r['jitter']:.3f}% of the eye "
            f"distance | missed {r['missed_frames']}, stale {r['stale_frames']}, found again "
            f"after {r['frames_to_find_again']} frames | {r['fps_in_memory']:.0f} frames/s"
        )
    print(
        f"smoothing cuts jitter {results['smoothing_cuts_jitter_by']:.1f}x for "
        f"{results['smoothing_nme_change_pp']:+.2f} pp NME; end to end "
        f"{results['fps_end_to_end_640x480']:.0f} frames/s at 640x480 (decoding and encoding "
        f"in turn: {results['fps_end_to_end_640x480_sequential']:.0f}) on {hardware()}, "
        f"{landmarker.runtime}, {relative(args.model)}, {'mirrored' if mirrored else 'no mirror'}"
    )
    results["mirrored"], results["model"] = mirrored, relative(args.model)
    results["seconds"] = round(time.perf_counter() - start, 1)
    suffix = output_suffix(args.model, mirrored)
    print(save_figure(strip(clip, smoothed), f"video_strip{suffix}"))
    print(save_results(f"video{suffix}", results))
    return 0


def output_suffix(model: Path, mirrored: bool) -> str:
    """How results/video*.json and figures/video_strip*.png are named, so that one model's
    run keeps another's: '' for the shipped model mirrored, '_no_mirror' without the mirror,
    '_fast' for landmarks68_fast.pt, '_<stem>' for another model ('_mirrored' if it is)."""
    if model.resolve() == DEFAULT_MODEL.resolve():
        return "" if mirrored else "_no_mirror"
    return "_" + model.stem.removeprefix(DEFAULT_MODEL.stem + "_") + ("_mirrored" * mirrored)


if __name__ == "__main__":
    sys.exit(main())
