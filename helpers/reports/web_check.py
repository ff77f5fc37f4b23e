"""The browser demo measured in headless Chromium: its points against Python's on the same crops
and photos, how its search finds faces without a detector, its speed beside native ONNX Runtime
on this machine, and its webcam path on the ground-truth clip through Chromium's fake camera.

Usage: python -m helpers web-check [--faces 40]
Writes results/web.json, figures/web_photo.png and figures/web_clip.png (the page as a person
sees it). Needs Chromium and its driver, and `make web-deps`.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..config import dataset_dir, figures_dir, hardware, relative, results_dir
from ..crop import prepare_image, target_to_pixels
from ..data import ibug_prep
from ..data.ibug import IBUG_DIR, ibug_dataset
from ..files import atomic_write
from ..geometry import failure_rate, nme
from ..images import read_image
from ..inference import timing
from ..inference.modelfile import DEFAULT_MODEL, FAST_MODEL, load_landmarker
from ..inference.predict import Landmarker
from ..inference.runtime import OnnxNet, verified_onnx
from ..inference.video import OneEuro, Tracker
from ..nets.readout import predict_batch
from . import browser, clip, web
from .demo import PORTRAIT

MODELS = {"unet": DEFAULT_MODEL, "fast": FAST_MODEL}
READY_SECONDS = 60  # the page loads its runtime and both models within this


@contextmanager
def page(flags: tuple[str, ...] = (), size=(1100, 1000)) -> Iterator[tuple[object, Path]]:
    """The demo page, built into a temporary folder, served on a free port and open in headless
    Chromium until ready; yields the driver and the folder (files put there are served)."""
    with tempfile.TemporaryDirectory() as folder:
        root = web.build(Path(folder))
        server = web.serve(root, 0)
        try:
            with browser.headless(*size, flags=flags) as driver:
                driver.set_script_timeout(900)
                driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
                _wait_ready(driver)
                yield driver, root
        finally:
            server.shutdown()


def _wait_ready(driver) -> None:
    """Wait for the page's models; a page that fails says why, from its console."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if driver.execute_script("return document.body.dataset.ready") == "yes":
            return
        time.sleep(0.2)
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    raise RuntimeError(f"the page did not get ready in {READY_SECONDS} s: {errors}")


def call(driver, expression: str, *args):
    """The value of an awaited JavaScript expression in the page; arguments are args[0], ..."""
    script = (
        "const done = arguments[arguments.length - 1], args = arguments;"
        f"Promise.resolve().then(() => {expression})"
        ".then(done, (e) => done({error: String(e && e.stack || e)}));"
    )
    result = driver.execute_async_script(script, *args)
    if isinstance(result, dict) and "error" in result:
        raise RuntimeError(f"the page failed: {result['error']}")
    return result


def _b64(crop: torch.Tensor) -> str:
    """A uint8 (3, S, S) crop as base64 of its RGB bytes, pixel by pixel."""
    return base64.b64encode(crop.permute(1, 2, 0).contiguous().numpy().tobytes()).decode()


def page_crop_points(driver, crops: torch.Tensor, name: str, mirrored: bool) -> tuple:
    """The page's points (N, 68, 2) in crop pixels and confidences (N, 68) for uint8 crops."""
    found = call(driver, "fkd.cropPoints(args[0], args[1], args[2])", [_b64(c) for c in crops],
                 name, mirrored)  # fmt: skip
    points = np.array([f["points"] for f in found], np.float64).reshape(-1, 68, 2)
    return points, np.array([f["confidence"] for f in found], np.float64)


def python_crop_points(name: str, crops: torch.Tensor, mirrored: bool) -> tuple:
    """Python's points and confidences for the same crops, on ONNX Runtime, as the page reads."""
    _, settings = load_landmarker(MODELS[name])
    net = OnnxNet(verified_onnx(MODELS[name]))
    perm = np.asarray(settings.flip_perm) if mirrored else None
    inputs = torch.stack([prepare_image(c, False) for c in crops])
    fractions, confidence = predict_batch(net, inputs, settings.readout, perm)
    size = settings.crop_size
    return target_to_pixels(fractions.numpy(), (size, size)), confidence.numpy()


def validation_faces(count: int) -> list:
    """The first `count` validation faces of 300-W (the split of notebooks 3 and 4)."""
    return ibug_prep.split()[1][:count]


def validation_crops(faces: list, name: str) -> torch.Tensor:
    """The uint8 crops a model takes of these faces, from their 300-W boxes."""
    _, s = load_landmarker(MODELS[name])
    return ibug_dataset(faces, s.crop_factor, s.crop_shift, s.crop_size)[0].images


def serve_photo(root: Path, image: np.ndarray, name: str) -> str:
    """Put a photo (as lossless PNG: no decoder differences) where the page's server serves it."""
    folder = root / "photos"
    folder.mkdir(exist_ok=True)
    Image.fromarray(image).save(folder / f"{name}.png")
    return f"photos/{name}.png"


def photo_differences(driver, root: Path, faces: list, name: str, mirrored: bool) -> list[float]:
    """Per face, the largest distance (px) between the page's points and Landmarker's for
    the same photo and box."""
    landmarker = Landmarker.load(MODELS[name], mirrored=mirrored, runtime="onnx")
    out = []
    for i, face in enumerate(faces):
        image = read_image(face.image_path)
        url = serve_photo(root, image, f"face{i}")
        box = face.box.astype(float).tolist()
        page_points = call(driver, "fkd.photoPoints(args[0], [args[1]], args[2], args[3])",
                           url, box, name, mirrored)[0]["points"]  # fmt: skip
        python_points = landmarker.in_boxes(image, [face.box])[0][0]
        gap = np.linalg.norm(np.reshape(page_points, (68, 2)) - python_points, axis=-1)
        out.append(float(gap.max()))
    return out


def search_scores(driver, root: Path, faces: list) -> dict:
    """How the page's search finds the validation faces in their whole photos, beside the
    detector and the same model in Python: faces found with NME under 8%, and the time."""
    landmarker = Landmarker.load(DEFAULT_MODEL, runtime="onnx")
    page_nme, python_nme, page_ms = [], [], []
    for i, face in enumerate(faces):
        image = read_image(face.image_path)
        url = serve_photo(root, image, f"search{i}")
        found = call(driver, "fkd.photoFaces(args[0], true)", url)
        page_ms.append(found["ms"])
        candidates = [np.reshape(f["points"], (68, 2)) for f in found["faces"]]
        page_nme.append(_best_nme(candidates, face.points))
        python_nme.append(_best_nme([f.points for f in landmarker(image)], face.points))
    return {
        "faces": len(faces),
        "found_page": _found_share(page_nme),
        "found_detector": _found_share(python_nme),
        "nme_page_found": _mean_found(page_nme),
        "nme_detector_found": _mean_found(python_nme),
        "ms_per_photo_page_median": round(float(np.median(page_ms)), 1),
    }


def _best_nme(candidates: list[np.ndarray], truth: np.ndarray) -> float:
    """The NME of the candidate nearest the true face (inf when there is none)."""
    return min((float(nme(c[None], truth[None])[0]) for c in candidates), default=np.inf)


def _found_share(errors: list[float]) -> float:
    """The share of faces found: those whose best candidate is within clip.FAILURE NME."""
    return round(1.0 - failure_rate(np.array(errors), clip.FAILURE), 4)


def _mean_found(errors: list[float]) -> float | None:
    kept = [e for e in errors if e < clip.FAILURE]
    return round(float(np.mean(kept)), 5) if kept else None


def speed(driver) -> dict:
    """ms per face at batch 1, no mirror, in the page and on native ONNX Runtime, this machine:
    from a model-ready crop to points (model and read-out)."""
    out = {}
    for name, weights in MODELS.items():
        _, settings = load_landmarker(weights)
        native = OnnxNet(verified_onnx(weights))
        out[name] = {
            "ms_per_face_chromium": round(call(driver, "fkd.msPerFace(args[0], 50)", name), 2),
            "ms_per_face_onnxruntime": round(
                timing.ms_per_face(native, settings, 1, mirrored=False, repeats=50), 2
            ),
        }
    return out


def stamped_clip(folder: Path) -> tuple[clip.Clip, Path, list[np.ndarray]]:
    """The ground-truth clip, as a stamped .y4m for the fake camera, and its frames as the
    browser sees them (stamped, through 4:2:0 and back)."""
    movie = clip.clip_from_validation()
    path = clip.write_y4m(folder / "clip.y4m", movie.frames)
    seen = [
        clip.from_yuv420(clip.to_yuv420(clip.stamp(f, i)), clip.FRAME)
        for i, f in enumerate(movie.frames)
    ]
    return movie, path, seen


def page_tracking(y4m: Path, frames: int, screenshot: Path | None = None) -> dict:
    """The page's webcam path on a clip that Chromium's fake camera plays in a loop, for the
    first pass the page tracks from its start: what it tracked before, while its first search
    ran, is kept too, since the tracker's state carries over. Returns, in the page's order,
    each frame's clip index and time (by its stamp; time runs on across passes) and points,
    the index where the scored pass starts, and the page's frames per second."""
    flags = (
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    )
    seconds = frames / clip.FPS
    with page(flags) as (driver, _):
        call(driver, "fkd.startWebcam()")
        time.sleep(1.5 * seconds)
        if screenshot is not None:
            driver.save_screenshot(str(screenshot))
        time.sleep(0.5 * seconds + 2.0)
        result = call(driver, "fkd.stopWebcam()")
    order, times, points, searched, passes, last = [], [], [], [], 0, -1
    for entry in result["log"]:
        if entry["stamp"] >= frames:
            continue  # a misread stamp
        if entry["stamp"] < last:  # the loop started again
            passes += 1
            if passes == 2:
                break
        last = entry["stamp"]
        found = entry["points"]
        order.append(entry["stamp"])
        times.append(passes * seconds + entry["stamp"] / clip.FPS)
        points.append(None if found is None else np.reshape(found, (68, 2)))
        searched.append(entry["searched"])
    if passes < 1:
        raise RuntimeError("the page did not reach the clip's second pass: too slow to measure")
    scored_from = next(k for k in range(1, len(order)) if order[k] < order[k - 1])
    return {
        "order": order,
        "times": times,
        "points": points,
        "searched": searched,
        "scored_from": scored_from,
        "fps": result["fps"],
        "ms": [e["ms"] for e in result["log"]],
    }


def python_tracking(frames: list[np.ndarray], tracked: dict) -> dict:
    """Python's tracker with the fast model, as the page runs it (ONNX, no mirror, smoothed), on
    the frames the page tracked, in its order and at its times: each step then starts from the
    same frame the page's did, however many frames the page skipped. Its points (None where it
    has no face) and whether each step looked for the face with the detector."""
    landmarker = Landmarker.load(FAST_MODEL, mirrored=False, runtime="onnx")
    tracker = Tracker(landmarker, OneEuro())
    steps = [
        tracker.step(frames[i], t) for i, t in zip(tracked["order"], tracked["times"], strict=True)
    ]
    return {
        "points": [None if s.face is None else s.face.points for s in steps],
        "searched": [s.detected for s in steps],
    }


SETTLE = 5  # steps after a search on either side before a frame is compared


def settled(*searched: list[bool]) -> list[bool]:
    """Per step, whether no event (a search on either side; the clip starting again) came in
    the last SETTLE steps: the page finds a face by its own search, Python by dlib's detector,
    so a face coming back into view is found differently by design, and the looping clip's
    jump back to its start is no motion a camera makes; what is compared is the tracking that
    follows."""
    flags = [any(s) for s in zip(*searched, strict=True)]
    return [not any(flags[max(0, k - SETTLE + 1) : k + 1]) for k in range(len(flags))]


def tracking_scores(movie: clip.Clip, tracked: dict, python: dict) -> dict:
    """NME of the page and of Python over the scored pass, on the frames where the face is
    whole, both have tracked it since their last search and since the clip began again
    (settled), and both have it (within clip.FAILURE NME); how often each lost it, and how
    often each held points off the face, on those frames."""
    k0 = tracked["scored_from"]
    restart = [k == k0 for k in range(len(tracked["order"]))]  # the clip jumps back to its start
    calm = settled(tracked["searched"], python["searched"], restart)[k0:]
    pass_ = zip(
        tracked["order"][k0:], tracked["points"][k0:], python["points"][k0:], calm, strict=True
    )
    steps = [(i, page, py, ok) for i, page, py, ok in pass_ if movie.visible[i]]
    compared = [(i, page, py) for i, page, py, ok in steps if ok]
    found = [(i, page, py) for i, page, py in compared if page is not None and py is not None]

    def off(points: np.ndarray, i: int) -> bool:  # points that are not on the face
        return float(nme(points[None], movie.truth[i][None])[0]) >= clip.FAILURE

    both = [(i, page, py) for i, page, py in found if not (off(page, i) or off(py, i))]
    index = [i for i, _, _ in both]
    gaps = [np.linalg.norm(page - py, axis=-1).mean() for _, page, py in both]

    def mean_nme(points: list[np.ndarray]) -> float:
        return round(float(nme(np.stack(points), movie.truth[index]).mean()), 5)

    return {
        "frames": len(movie.frames),
        "frames_seen": len(tracked["order"]) - k0,
        "frames_scored": len(both),
        "frames_settling": sum(not ok for *_, ok in steps),
        "page_missed": sum(page is None for _, page, _, _ in steps),
        "python_missed": sum(py is None for _, _, py, _ in steps),
        "page_off": sum(off(page, i) for i, page, _ in found),
        "python_off": sum(off(py, i) for i, _, py in found),
        "nme_page": mean_nme([page for _, page, _ in both]),
        "nme_python": mean_nme([py for _, _, py in both]),
        "mean_gap_px": round(float(np.mean(gaps)), 3),
    }


def measure(faces: int = 40) -> dict:
    """Everything results/web.json holds, with the two screenshots."""
    chosen = validation_faces(faces)
    record: dict = {"hardware": hardware(), "chromium": browser.version()}
    with page() as (driver, root):
        record["runtime"] = call(driver, "fkd.info")
        record["crops_max_px"] = {}
        for name in MODELS:
            crops = validation_crops(chosen, name)
            for mirrored in (False, True):
                page_pts, _ = page_crop_points(driver, crops, name, mirrored)
                python_pts, _ = python_crop_points(name, crops, mirrored)
                gap = float(np.linalg.norm(page_pts - python_pts, axis=-1).max())
                record["crops_max_px"][f"{name}{'_mirrored' if mirrored else ''}"] = round(gap, 4)
        gaps = photo_differences(driver, root, chosen[:10], "unet", mirrored=True)
        record["photo_max_px"] = round(max(gaps), 4)
        record["search"] = search_scores(driver, root, chosen)
        record["speed"] = speed(driver)
        url = serve_photo(root, read_image(dataset_dir(IBUG_DIR) / PORTRAIT), "portrait")
        call(driver, "fkd.photoFaces(args[0], true)", url)
        driver.save_screenshot(str(figures_dir() / "web_photo.png"))
    with tempfile.TemporaryDirectory() as folder:
        movie, y4m, seen = stamped_clip(Path(folder))
        tracked = page_tracking(y4m, len(seen), figures_dir() / "web_clip.png")
    record["clip"] = tracking_scores(movie, tracked, python_tracking(seen, tracked))
    record["clip"]["fps_page"] = round(tracked["fps"], 1)
    record["clip"]["ms_per_frame_page_median"] = round(float(np.median(tracked["ms"])), 2)
    return record


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=40, help="validation faces to compare on")
    args = parser.parse_args(argv)
    try:
        record = measure(args.faces)
    except (browser.BrowserUnavailable, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    path = atomic_write(results_dir() / "web.json", json.dumps(record, indent=1))
    print(json.dumps(record, indent=1))
    print(f"-> {relative(path)}, figures/web_photo.png, figures/web_clip.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
