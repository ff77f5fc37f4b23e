"""What int8 buys the shipped models: ONNX Runtime's static quantization of each verified ONNX
export, calibrated on training crops, scored on the validation faces and timed beside float32.

Usage: python -m helpers quantize [--model PATH ...] [--calibration 256]

For each model (default: the shipped ones) it writes an int8 copy of the export to a temporary
folder (QDQ format, weights int8 per output channel, activations uint8 with min-max ranges over
the calibration crops), prints validation NME with and without the mirror for float32 and int8,
and ms per face at batch 1 without the mirror for both, in interleaved rounds, with the CPU,
and writes them to results/quantize.json. It ships nothing: it measures whether an int8 model is
worth shipping on this CPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..config import RELEASES, hardware, relative
from ..inference import runtime, timing
from ..inference.modelfile import DEFAULT_MODEL, FAST_MODEL, load_landmarker
from ..plots import save_results
from ..training import evaluate
from ..training.recipes import recipe_data


def calibration_crops(data, count: int, batch: int = 8, seed: int = 0) -> list[np.ndarray]:
    """`count` un-augmented training crops, model-ready, in batches: what the ranges of the
    activations are measured on."""
    train = data.train.with_augment(None)
    picks = np.random.default_rng(seed).choice(len(train), min(count, len(train)), replace=False)
    crops = torch.stack([train[int(i)][0] for i in picks]).numpy()
    return [crops[i : i + batch] for i in range(0, len(crops), batch)]


class Feeds:
    """Calibration batches as ONNX Runtime's quantizer reads them (its CalibrationDataReader
    asks for nothing but get_next)."""

    def __init__(self, name: str, batches: list[np.ndarray]) -> None:
        self.feeds = iter([{name: batch} for batch in batches])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def quantize(weights: Path, out: Path, batches: list[np.ndarray]) -> Path:
    """An int8 copy of the verified ONNX export of `weights` at `out`, calibrated on `batches`
    of crops; an error if the export is missing or its card does not vouch for it."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model, _ = load_landmarker(weights)
    net, _ = runtime.choose(weights, model, "onnx")  # raises unless the export is verified
    quantize_static(
        str(runtime.onnx_path(weights)), str(out), Feeds(net.input, batches),
        quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
    )  # fmt: skip
    return out


def study(paths: list[Path], calibration: int) -> dict[str, dict[str, float]]:
    """Validation NME (mirrored and not) and batch-1 ms/face of each model's float32 and int8
    exports, printed and returned by row."""
    print(f"on {hardware()}, ONNX Runtime, batch 1, no mirror")
    data = recipe_data(RELEASES["fast"])  # the release split: the same 221 validation faces
    score = partial(evaluate.ibug_scores, true_px=data.true_px, subsets=data.subsets)
    rows, timers = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for path in paths:
            _, settings = load_landmarker(path)
            if settings.in_channels != 3:
                raise ValueError(f"{relative(path)} reads grey crops: only RGB models here")
            own = data if data.size == settings.crop_size else data.at_size(settings.crop_size)
            points = partial(evaluate.crop_points, data=own.val, squares=own.val_squares)
            batches = calibration_crops(own, calibration)
            int8 = quantize(path, Path(folder) / f"{path.stem}.int8.onnx", batches)
            for kind, file in (("float32", runtime.onnx_path(path)), ("int8", int8)):
                net, row = runtime.OnnxNet(file), f"{path.name}, {kind}"
                rows[row] = {
                    "nme": score(points(net, readout=settings.readout, perm=data.perm)[0]).mean,
                    "nme_no_mirror": score(points(net, readout=settings.readout)[0]).mean,
                    "megabytes": file.stat().st_size / 1e6,
                }
                timers[row] = partial(timing.ms_per_face, net, settings, 1, False, 100)
        for row, ms in timing.interleaved(timers).items():
            rows[row]["ms"] = ms
    for row, r in rows.items():
        print(
            f"  {row:32s} NME {100 * r['nme']:.2f}% ({100 * r['nme_no_mirror']:.2f}% without the"
            f" mirror)  {r['ms']:6.2f} ms/face  {r['megabytes']:5.2f} MB"
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, action="append", help="default: the shipped ones")
    parser.add_argument("--calibration", type=int, default=256, help="training crops")
    args = parser.parse_args(argv)
    paths = args.model or [p for p in (DEFAULT_MODEL, FAST_MODEL) if p.is_file()]
    try:
        rows = study(paths, args.calibration)
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    record = {
        row: {k: round(v, 5 if "nme" in k else 2) for k, v in r.items()} for row, r in rows.items()
    }
    print(save_results("quantize", {"calibration_crops": args.calibration, "rows": record}))
    print("no model written:", ", ".join(relative(p) for p in paths), "are unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())
