"""Landmarks on video and camera: detect, then track from the last frame's points, smoothed
over time by the One Euro filter (Casiez, Roussel and Vogel, CHI 2012).

Usage: python -m helpers video IN.mp4 --out OUT.mp4 [--csv points.csv] [--model PATH] [--fast]
                               [--no-mirror] [--runtime auto|torch|onnx]
                               [--min-cutoff 0.3] [--beta 0.2] [--no-smooth]
       python -m helpers video --camera 0 [--out OUT.mp4]   (a live window where a display exists)

A face is detected on the first frame and whenever the track is lost; otherwise the next crop
comes from the previous frame's points (the box the detector would have drawn, estimated from
them), which costs the landmark model alone. A track is lost when its heatmaps lose confidence
or its box leaves the frame: no stale points are drawn, and the face is looked for again.
Video is read and written with PyAV (FFmpeg's libraries in a wheel, frames as arrays, no
subprocess); the camera is read with it too (v4l2 on Linux).
"""

from __future__ import annotations

import argparse
import csv
import math
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import relative
from ..progress import progress
from .pose import pose_axes
from .predict import Face, Landmarker, add_model_options, landmarker_from
from .signals import blinks

# The 300-W training boxes against their 68 points' extent s = sqrt(width * height): the box's
# side, and its centre's offset from the points' centre, in units of s (medians over the
# training faces; tests/test_video.py measures them again).
BOX_FROM_POINTS = (1.068, -0.010, -0.084)
# One Euro: chosen on the clip of helpers.reports.clip, where it cuts the jitter several times
# for a few hundredths of a point of NME (results/video.json); a lower beta cuts more jitter but
# lags behind a moving face
MIN_CUTOFF, BETA = 0.3, 0.2
MIN_CONFIDENCE = 0.5  # mean heatmap confidence under which a track is lost: between a face's
# (near 1) and what the model gives where there is none (well under 0.5 on the clip)
# The detector looks for faces of about 80 px and up in video frames (no upsampling): a
# 640x480 frame costs about a quarter of the photos' setting.
VIDEO_UPSAMPLE = 0
# While no face is tracked the detector looks at every third frame, not every one: a detection
# costs several times a tracked frame with the fast model. A face that comes back is found
# within two frames, and the clip's points are the same either way (tests/test_video.py).
SEARCH_EVERY = 3


def box_from_points(points: np.ndarray) -> np.ndarray:
    """The face box (left, top, side, side) a detector would give for these 68 points."""
    low, high = points.min(0), points.max(0)
    extent = math.sqrt(max(float(np.prod(high - low)), 1.0))
    ratio, dx, dy = BOX_FROM_POINTS
    side = ratio * extent
    cx, cy = (low + high) / 2 + np.array([dx, dy]) * extent
    return np.array([cx - side / 2, cy - side / 2, side, side], dtype=np.float32)


class OneEuro:
    """The One Euro filter on arrays: a low-pass filter whose cutoff rises with speed, so still
    points stop jittering (min_cutoff, Hz: lower, smoother) and fast ones do not lag (beta:
    higher, less lag)."""

    def __init__(self, min_cutoff: float = MIN_CUTOFF, beta: float = BETA, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset()

    def reset(self) -> None:
        self.x = self.dx = self.t = None

    @staticmethod
    def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """The filtered value of x observed at time t (seconds)."""
        x = np.asarray(x, dtype=np.float64)
        if self.x is None:
            self.x, self.dx, self.t = x, np.zeros_like(x), t
            return x.astype(np.float32)
        dt = max(t - self.t, 1e-6)
        dx = (x - self.x) / dt
        self.dx = self.dx + self._alpha(self.d_cutoff, dt) * (dx - self.dx)
        speed = np.linalg.norm(self.dx, axis=-1, keepdims=True)  # per point, in px/s
        alpha = self._alpha(self.min_cutoff + self.beta * speed, dt)
        self.x, self.t = self.x + alpha * (x - self.x), t
        return self.x.astype(np.float32)


@dataclass
class Step:
    """What the tracker did on one frame: the face (None when there is none) and whether it
    ran the detector."""

    face: Face | None
    detected: bool


class Tracker:
    """Faces across frames: detect when there is no track, else crop from the last points."""

    def __init__(
        self,
        landmarker: Landmarker,
        smooth: OneEuro | None = None,
        min_confidence: float = MIN_CONFIDENCE,
        detect_every_frame: bool = False,
        search_every: int = SEARCH_EVERY,
    ) -> None:
        if search_every < 1:
            raise ValueError(f"search_every must be 1 or more, got {search_every}")
        self.lm, self.smooth, self.min_confidence = landmarker, smooth, min_confidence
        self.detect_every_frame = detect_every_frame
        self.search_every = 1 if detect_every_frame else search_every
        self.points: np.ndarray | None = None  # the last raw points: where the next crop comes from
        self.rest = 0  # frames the detector still skips before it looks for a face again

    def step(self, frame: np.ndarray, t: float) -> Step:
        """Landmarks on one uint8 RGB frame observed at time t (seconds). A track lost on
        this frame is looked for again on it at once, by the detector; with no track, the
        detector looks at every search_every-th frame."""
        if self.points is None and self.rest:
            self.rest -= 1
            return Step(None, False)
        tracking = self.points is not None and not self.detect_every_frame
        step = self._step(frame, t)
        return self._step(frame, t) if tracking and step.face is None else step

    def _step(self, frame: np.ndarray, t: float) -> Step:
        """One attempt: from the last points when there are some, else by the detector."""
        detected = self.points is None or self.detect_every_frame
        if detected:
            boxes, scores = self.lm.detect(frame, VIDEO_UPSAMPLE)
            if not len(boxes):
                return self._lose(detected)
            box, score = boxes[0], float(scores[0])
        else:
            box, score = box_from_points(self.points), float("nan")
        height, width = frame.shape[:2]
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        if not (0 <= cx < width and 0 <= cy < height):
            return self._lose(detected)
        points, confidence = self.lm.in_boxes(frame, [box])
        points, confidence = points[0], None if confidence is None else confidence[0]
        if confidence is not None and confidence.mean() < self.min_confidence:
            return self._lose(detected)
        self.points = points
        shown = points if self.smooth is None else self.smooth(points, t)
        return Step(Face(box, shown, score, confidence, (width, height)), detected)

    def _lose(self, detected: bool) -> Step:
        """No face on this frame: forget the track; the detector looks again in search_every
        frames, or on this one at once when the track was lost here (Tracker.step)."""
        self.points = None
        self.rest = self.search_every - 1 if detected else 0
        if self.smooth is not None:
            self.smooth.reset()
        return Step(None, detected)


def read_frames(source: str | Path, video_format: str | None = None) -> Iterator[tuple]:
    """(uint8 RGB frame, time in seconds, frames per second) for each frame of a video file or
    a camera device (video_format="v4l2" for /dev/videoN)."""
    import av  # imported here: video is the only job that needs it

    with av.open(str(source), format=video_format) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 30)
        for i, frame in enumerate(container.decode(stream)):
            t = float(frame.time) if frame.time is not None else i / rate
            yield frame.to_ndarray(format="rgb24"), t, rate


# x264's fastest preset: about half the time per frame of veryfast (itself several times
# faster than the default, medium), for a larger file
PRESET = "ultrafast"


class VideoWriter:
    """H.264 frames into an .mp4, with PyAV; opened on the first frame, whose size it takes."""

    def __init__(self, path: Path, rate: float) -> None:
        self.path, self.rate, self.container, self.stream = Path(path), rate, None, None

    def write(self, frame: np.ndarray) -> None:
        import av

        if self.container is None:
            self.container = av.open(str(self.path), "w")
            self.stream = self.container.add_stream("libx264", rate=round(self.rate))
            self.stream.height, self.stream.width = (d - d % 2 for d in frame.shape[:2])
            self.stream.pix_fmt = "yuv420p"
            self.stream.options = {"preset": PRESET}
        frame = frame[: self.stream.height, : self.stream.width]
        video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        for packet in self.stream.encode(video_frame):
            self.container.mux(packet)

    def close(self) -> None:
        """Flush the encoder and close the file; once: a second call does nothing."""
        if self.container is not None:
            try:
                for packet in self.stream.encode():
                    self.container.mux(packet)
            finally:
                self.container.close()
                self.container = None


class _Failed:
    """What the reader's thread raised, carried to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead(items: Iterable, depth: int = 4) -> Iterator:
    """items in order, read by a thread of their own up to `depth` ahead, so that decoding the
    next frame (FFmpeg, outside the GIL) overlaps the work on this one; its errors come here.
    Closing the generator stops the reader and waits for it to close its source."""
    box: queue.Queue = queue.Queue(depth)
    stop, end = threading.Event(), object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def fill() -> None:
        try:
            for item in items:
                if not put(item):
                    break
        except BaseException as err:  # an unreadable file: raised in the reader's thread
            put(_Failed(err))
        finally:
            getattr(items, "close", lambda: None)()
            put(end)

    reader = threading.Thread(target=fill, daemon=True)
    reader.start()
    try:
        while (item := box.get()) is not end:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        reader.join(timeout=5)


class BackgroundWriter:
    """A VideoWriter fed through a queue by a thread of its own, so that encoding a frame
    (x264, outside the GIL) overlaps the work on the next; its errors come at write or close."""

    def __init__(self, path: Path, rate: float, depth: int = 4) -> None:
        self.writer, self.box, self.error = VideoWriter(path, rate), queue.Queue(depth), None
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        while (frame := self.box.get()) is not None:
            if self.error is None:  # after an error, frames are taken and dropped
                try:
                    self.writer.write(frame)
                except Exception as err:
                    self.error = err

    def write(self, frame: np.ndarray) -> None:
        if self.error is not None:
            raise self.error
        self.box.put(frame)

    def close(self) -> None:
        """Encode what is queued, then flush and close the file; an encoding error is raised."""
        if self.thread.is_alive():
            self.box.put(None)
            self.thread.join()
        try:
            self.writer.close()
        finally:
            if self.error is not None:
                error, self.error = self.error, None
                raise error


def write_video(path: Path, frames: Iterable[np.ndarray], rate: float, overlap=False) -> Path:
    """Frames into an .mp4 at `rate` frames per second (encoded on a thread with overlap)."""
    writer = (BackgroundWriter if overlap else VideoWriter)(path, rate)
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.close()
    return Path(path)


def track(
    frames,
    tracker: Tracker,
    out: Path | None = None,
    csv_path: Path | None = None,
    show: bool = False,
    overlap: bool = True,
    axes: bool = False,
) -> dict:
    """Run the tracker over frames, drawing the points on them; write the video and a CSV
    (CSV_HEADER: frame, time, detected, the points, their confidence, the head pose and the
    eye and mouth signals), and with `axes` draw each head's pose axes. Returns the
    frame count, the frames with a face, the detector calls and frames per second. With
    overlap, frames are decoded and encoded on threads of their own beside the tracking."""
    from .draw import mark_axes, mark_points

    writer = window = None
    rows = []
    counts = {"frames": 0, "with_face": 0, "detector_calls": 0}
    threads = torch.get_num_threads()
    if tracker.lm.runtime == "onnxruntime":  # torch only crops and decodes: one thread, so it
        torch.set_num_threads(1)  # does not wait for the encoder's cores (clip: 81 fps, not 66)
    start = time.perf_counter()
    source = ahead(frames) if overlap else iter(frames)
    try:
        for frame, t, rate in progress(source, desc="frames", unit="frame"):
            step = tracker.step(frame, t)
            counts["frames"] += 1
            counts["detector_calls"] += step.detected
            counts["with_face"] += step.face is not None
            if out or show:
                frame = frame.copy()
                if step.face is not None:
                    mark_points(frame, step.face.points)
                    if axes:
                        mark_axes(frame, pose_axes(step.face.pose, step.face.image_size))
            if out:
                writer = writer or (BackgroundWriter if overlap else VideoWriter)(out, rate)
                writer.write(frame)
            if csv_path:
                rows.append(csv_row(counts["frames"] - 1, t, step))
            if show:
                window = _show(frame, window)
    finally:
        torch.set_num_threads(threads)
        getattr(source, "close", lambda: None)()  # the reader's thread stops, its file closes
        if writer is not None:
            writer.close()
    counts["fps"] = counts["frames"] / (time.perf_counter() - start)
    if csv_path:
        with open(csv_path, "w", newline="") as fh:
            csv.writer(fh).writerows([CSV_HEADER, *rows])
    return counts


CSV_HEADER = [
    "frame",
    "time_s",
    "detected",
    *(f"{axis}{k}" for k in range(68) for axis in "xy"),
    *(f"c{k}" for k in range(68)),
    "yaw",
    "pitch",
    "roll",
    "ear_36_41",
    "ear_42_47",
    "mouth_opening",
]


def csv_row(index: int, t: float, step: Step) -> list:
    """One frame's CSV row: its index, time and whether the detector ran, then the face's
    points, each point's confidence, the head pose (degrees), each eye's aspect ratio and the
    mouth's opening (empty cells without a face)."""
    face = step.face
    if face is None:
        return [index, round(t, 4), int(step.detected)] + [""] * (len(CSV_HEADER) - 3)
    points = face.points.round(2).ravel().tolist()
    confidence = [""] * 68 if face.confidence is None else face.confidence.round(3).tolist()
    pose = [round(angle, 2) for angle in (face.pose.yaw, face.pose.pitch, face.pose.roll)]
    eyes = face.eye_aspect_ratios.round(4).tolist()
    signals = [*pose, *eyes, round(face.mouth_opening, 4)]
    return [index, round(t, 4), int(step.detected), *points, *confidence, *signals]


def _show(frame: np.ndarray, window):
    """Show a frame in a live matplotlib window (created on the first frame)."""
    import matplotlib.pyplot as plt

    if window is None:
        plt.ion()
        window = plt.imshow(frame)
        plt.axis("off")
    else:
        window.set_data(frame)
    plt.pause(0.001)
    return window


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", type=Path, help="a video file")
    parser.add_argument("--camera", type=int, help="a camera device number instead of a file")
    parser.add_argument("--out", type=Path, help="the video with its points, .mp4")
    parser.add_argument(
        "--csv", type=Path, help="every frame's points, pose, eyes and mouth; counts blinks"
    )
    parser.add_argument("--pose", action="store_true", help="draw each head's pose axes")
    add_model_options(parser)
    parser.add_argument("--no-smooth", action="store_true", help="no One Euro smoothing")
    parser.add_argument(
        "--min-cutoff", type=float, default=MIN_CUTOFF, help="Hz; lower: less jitter"
    )
    parser.add_argument("--beta", type=float, default=BETA, help="higher: less lag")
    args = parser.parse_args(argv)
    if (args.source is None) == (args.camera is None):
        parser.error("give a video file or --camera N")
    if args.source is not None and not args.source.is_file():
        print(f"error: {args.source}: no such video file", file=sys.stderr)
        return 3
    try:
        landmarker = landmarker_from(args)
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    smooth = None if args.no_smooth else OneEuro(args.min_cutoff, args.beta)
    source = args.source if args.camera is None else f"/dev/video{args.camera}"
    video_format = None if args.camera is None else "v4l2"
    show = args.camera is not None and bool(os.environ.get("DISPLAY"))
    try:
        frames, tracker = read_frames(source, video_format), Tracker(landmarker, smooth)
        counts = track(frames, tracker, args.out, args.csv, show, axes=args.pose)
    except KeyboardInterrupt:  # the camera runs until stopped
        return 0
    except Exception as err:  # an unreadable video, a missing camera: one line, not a traceback
        print(f"error: {source}: {err}", file=sys.stderr)
        return 2
    print(
        f"{counts['frames']} frames, a face on {counts['with_face']}, the detector run on "
        f"{counts['detector_calls']}, {counts['fps']:.0f} frames/s"
        + (f" -> {relative(args.out)}" if args.out else "")
    )
    if args.csv:
        found, figure = signals_of(args.csv)
        print(f"{len(found)} blinks; eyes and mouth over time -> {relative(figure)}")
    return 0


def signals_of(csv_path: Path) -> tuple[list[tuple[int, int]], Path]:
    """The blinks in a CSV the tracker wrote, and a plot of its eye and mouth signals over
    time beside it (<csv>_signals.png)."""
    from .draw import plot_signals

    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))

    def column(name: str) -> np.ndarray:
        return np.array([float(r[name]) if r[name] else np.nan for r in rows])

    times, mouth = column("time_s"), column("mouth_opening")
    eyes = np.stack([column("ear_36_41"), column("ear_42_47")], 1)
    fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 30.0
    found = blinks(eyes, fps)
    figure = csv_path.with_name(f"{csv_path.stem}_signals.png")
    plot_signals(times, eyes, mouth, found, figure)
    return found, figure


if __name__ == "__main__":
    sys.exit(main())
