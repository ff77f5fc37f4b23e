"""The tables of the README and docs/, generated from the records in results/ and the shipped
models' cards, so they cannot disagree with them. A table sits between <!-- table:NAME --> and
<!-- /table:NAME --> in the Markdown; `python -m helpers writeup --docs` rewrites them all, and
a test fails when a page's copy differs from what its record gives."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..config import REPO_ROOT
from ..training.records import model_key

HEADER = (
    "| part | points, data | model | validation error | AUC@8% | failure (NME > 8%) "
    "| ms/face, torch / ONNX Runtime |\n| --- | --- | --- | --- | --- | --- | --- |"
)


def _pct(value: float, digits: int = 3) -> str:
    return f"{100 * value:.{digits}f}%"


def _ms(torch_ms: float | None, onnx_ms: float | None = None) -> str:
    def one(ms: float | None) -> str:
        return "" if ms is None else f"{ms:.2f}"

    return f"{one(torch_ms)} / {one(onnx_ms)}".strip() if torch_ms is not None else ""


def _shipped(root: Path, name: str) -> tuple[dict, dict]:
    """A shipped model's card and the results record of the run that made it."""
    card = json.loads((root / "models" / f"{name}.json").read_text())
    label = card["settings"]["label"]
    return card, json.loads((root / "results" / f"{label}.json").read_text())


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def results_table(root: Path = REPO_ROOT) -> str:
    """The table: every part's validation error, the shipped models' scores and cost."""
    read = lambda name: json.loads((root / "results" / f"{name}.json").read_text())  # noqa: E731
    nose, face, ibug, hm = read("nose_tip"), read("full_face"), read("ibug"), read("heatmaps")
    speed = hm["ms_per_face_batch1"]  # Part 3 and 4's networks timed in one run
    imm, w300 = "IMM", "68 points, 300-W"

    def heatmap(name: str) -> str:
        best = hm["ibug_model"] == name  # the one whose AUC and failures the record keeps
        nme = hm[f"{model_key(name)}_val_nme"]
        auc = f"{hm['ibug_val_auc8']:.4f}" if best else ""
        failure = _pct(hm["ibug_val_failure8"], 2) if best else ""
        return _row("4", w300, name, f"{_pct(nme)} NME", auc, failure, _ms(speed[name]))

    def shipped(part: str, name: str, what: str, fast: bool) -> str:
        card, run = _shipped(root, name)
        b = "" if fast else "**"  # the accurate model is the headline
        nme = f"{b}{_pct(card['val_nme'])} NME{b}"
        if fast:
            plain = _pct(card["val_nme_without_mirrored_prediction"])
            nme += f" ({plain} without the mirror, as `--fast` runs it)"
        return _row(
            part,
            w300,
            f"**{what}, shipped** (`models/{name}.pt`, {run['parameters']:,} parameters)",
            nme,
            f"{b}{card['val_auc8']:.4f}{b}",
            f"{b}{_pct(card['val_failure8'], 2)}{b}",
            _ms(card["ms_per_face_batch1"], run["onnx_ms_per_face_batch1"]),
        )

    rows = [
        _row("1", f"nose tip, {imm}", "small CNN, regression (80×60 grey)",
             f"{nose['val_mean_error_px']:.2f} px", "", "", ""),
        _row("4", f"nose tip, {imm}", "UNet heatmaps, nose only (80×60)",
             f"{hm['nose_tip_error_px_nose_model']:.2f} px", "", "", ""),
        _row("2", f"58 points, {imm}", "CNN, regression (240×180)",
             f"{face['val_mean_error_px']:.2f} px", "", "", ""),
        _row("4", f"58 points, {imm}", "UNet heatmaps (240×180)",
             f"{hm['full_face_error_px']:.2f} px", "", "", ""),
        _row("3", w300, f"ResNet18, regression ({ibug['crop_size']} px)",
             f"{_pct(ibug['val_nme'])} NME", f"{ibug['val_auc8']:.4f}",
             _pct(ibug["val_failure8"], 2), _ms(speed["regression (Part 3)"])),
        heatmap("ResNet18 heatmaps"),
        heatmap("UNet heatmaps"),
        shipped("5", "landmarks68", "release UNet", fast=False),
        shipped("6", "landmarks68_fast", "fast model", fast=True),
        _row("", w300, "always the mean training shape",
             f"{_pct(ibug['val_nme_mean_shape'])} NME", "", "", ""),
    ]  # fmt: skip
    return "\n".join([HEADER, *rows])


def inference_table(record: dict) -> str:
    """ms per face at batch 1 of each row `benchmark --inference` timed, beside dlib's."""
    rows = record["batch1_ms_per_face"]
    dlib = next((ms for row, ms in rows.items() if row.startswith("dlib")), None)
    header = "| batch 1, float32 | ms per face | × dlib's predictor |\n| --- | --- | --- |"
    lines = [
        _row(row, f"{ms:.2f}", "" if dlib is None else f"{ms / dlib:.2f}×")
        for row, ms in rows.items()
    ]
    lines += [
        _row(f"{row}, batch 32", f"{ms['plain']:.2f} ({ms['mirrored']:.2f} mirrored)", "")
        for row, ms in record["batch32_ms_per_face"].items()
    ]
    return "\n".join([header, *lines])


def detector_table(record: dict) -> str:
    """The face detector's recall, time and score thresholds on the 300-W test file."""
    d = record["detector"]
    found = f"{d['found']} of {d['faces']} faces ({100 * d['found'] / d['faces']:.1f}%)"
    lines = [
        f"On `{d['xml']}`: {found}, {d['ms_per_image']:.0f} ms per image.",
        "",
        "| score above | recall | precision | faces found | false detections |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        _row(f"{t['threshold']:.2f}", _pct(t["recall"], 1), _pct(t["precision"], 1),
             str(t["found"]), str(t["false"]))
        for t in d["thresholds"]
    ]  # fmt: skip
    return "\n".join(lines)


def memory_table(record: dict) -> str:
    """Peak memory and time of `predict` on generated photos, each in a fresh process."""
    rows = record["predict_peak_memory"]
    first = next(iter(rows.values()))["peak_mb"]
    header = "| photo | file | peak memory | × the first | time | exit |\n" + "| --- " * 6 + "|"
    lines = [
        _row(name, f"{r['file_mb']:.1f} MB", f"{r['peak_mb']} MB", f"{r['peak_mb'] / first:.2f}×",
             f"{r['seconds']:.1f} s", str(r["exit"]))
        for name, r in rows.items()
    ]  # fmt: skip
    return "\n".join([header, *lines])


def candidates_table(record: dict) -> str:
    """ms per face of the fast model's candidate sizes beside the shipped model."""
    header = "| batch 1, no mirror | torch | ONNX Runtime |\n| --- | --- | --- |"
    lines = [
        _row(name, *(f"{ms[k]:.2f} ms" if k in ms else "" for k in ("torch", "onnxruntime")))
        for name, ms in record["batch1_ms_per_face"].items()
    ]
    return "\n".join([header, *lines])


def training_table(record: dict) -> str:
    """Training images per second by precision mode, and the loader's."""
    speeds = record["images_per_second"]
    first = next(iter(speeds.values()))
    header = (
        f"| ResNet18, {record['size']} px, batch {record['batch']} | images/s | × float32 |\n"
        "| --- | --- | --- |"
    )
    lines = [_row(mode, f"{v:.1f}", f"{v / first:.2f}×") for mode, v in speeds.items()]
    loader = record["loader_images_per_second"]
    lines.append(_row(f"loader with augmentation ({record['loader_workers']} workers)",
                      f"{loader:.1f}", f"{loader / first:.1f}×"))  # fmt: skip
    chosen = f"Training chooses {record['precision']}: {record['precision_reason']}."
    paths = record.get("augmentation_images_per_second")
    if not paths:
        return "\n".join([header, *lines, "", chosen])
    before = next(iter(paths.values()))
    augmented = [
        "| release UNet, float32, strong augmentation | images/s | × per sample |",
        "| --- | --- | --- |",
        *(_row(path, f"{v:.1f}", f"{v / before:.2f}×") for path, v in paths.items()),
    ]
    return "\n".join([header, *lines, "", chosen, "", *augmented])


def quantize_table(record: dict) -> str:
    """Validation NME, time and size of each shipped model's float32 and int8 exports."""
    header = (
        "| ONNX Runtime, batch 1 | NME | NME without the mirror | ms per face | size |\n"
        "| --- | --- | --- | --- | --- |"
    )
    lines = [
        _row(row, _pct(r["nme"]), _pct(r["nme_no_mirror"]), f"{r['ms']:.2f}",
             f"{r['megabytes']:.2f} MB")
        for row, r in record["rows"].items()
    ]  # fmt: skip
    return "\n".join([header, *lines])


def video_table(record: dict) -> str:
    """The tracker on the clip with known true points: error, jitter, frames lost and speed."""
    header = (
        "| on the clip | NME | jitter | frames with a face | missed | stale | to find again "
        "| frames/s in memory |\n" + "| --- " * 8 + "|"
    )
    runs = ("tracking, smoothed", "tracking, raw", "detecting every frame")
    lines = [
        _row(run, _pct(r["nme"], 2), f"{r['jitter']:.5f}", str(r["frames_with_face"]),
             str(r["missed_frames"]), str(r["stale_frames"]), str(r["frames_to_find_again"]),
             f"{r['fps_in_memory']:.1f}")
        for run in runs
        if (r := record[run])
    ]  # fmt: skip
    where = "mirrored" if record["mirrored"] else "without the mirror"
    return "\n".join(
        [
            f"`{record['model']}` on {record['runtime']}, {where}; {record['frames']} frames.",
            "",
            header,
            *lines,
            "",
            f"Smoothing cuts the jitter {record['smoothing_cuts_jitter_by']:.1f}× for "
            f"{record['smoothing_nme_change_pp']:+.2f} pp of NME. A 640×480 file to a file: "
            f"{record['fps_end_to_end_640x480']:.1f} frames/s with decoding and encoding "
            f"beside the tracking, {record['fps_end_to_end_640x480_sequential']:.1f} one after "
            "the other.",
        ]
    )


def recipe_study_table(record: dict) -> str:
    """The release candidates at equal training time: scores, cost and passes."""
    header = (
        "| candidate | NME | AUC@8% | failure | parameters | ms per face | passes |\n"
        + "| --- " * 7
        + "|"
    )
    lines = [
        _row(name + (" (Pareto front)" if name in record["front"] else ""), _pct(c["val_nme"], 2),
             f"{c['val_auc8']:.3f}", _pct(c["val_failure8"], 1), f"{c['parameters']:,}",
             f"{c['ms_per_face_batch1']:.2f}", str(c["passes"]))
        for name, c in record["candidates"].items()
    ]  # fmt: skip
    first = next(iter(record["candidates"].values()))
    trained = first.get("hardware", record["hardware"])
    note = (
        f"Each candidate trained {first['seconds']:.0f} s from the same seed on {trained}; "
        "the costs are timed together on the machine above."
    )
    return "\n".join([note, "", header, *lines])


def part3_studies_table(record: dict) -> str:
    """Notebook 3's studies at equal wall-clock time: input size and batch, learning rate."""
    header = "| Part 3 study, equal time | validation NME |\n| --- | --- |"
    studies = {**record["size_study_nme"], **record["lr_study_nme"]}
    lines = [_row(name, _pct(nme, 2)) for name, nme in studies.items()]
    return "\n".join([header, *lines])


def loss_study_table(record: dict) -> str:
    """Notebook 4's loss study on IMM (px at 640x480) and on 300-W (NME)."""
    header = "| loss | IMM, 58 points (px) | 300-W (NME) |\n| --- | --- | --- |"
    imm, ibug = record["loss_study_imm_px"], record["loss_study_ibug_nme"]
    lines = [_row(loss, f"{imm[loss]:.2f}", _pct(ibug[loss], 2)) for loss in imm]
    return "\n".join([header, *lines])


def pack_table(record: dict) -> str:
    """What the pack holds by part, and what its lossy training crops lose."""
    faces = record["faces"]
    header = (
        f"| the pack: {faces['train']:,} training and {faces['val']} validation faces, "
        f"{record['size']} px | MB |\n| --- | ---: |"
    )
    lines = [_row(part, f"{mb:.2f}") for part, mb in record["megabytes_by_part"].items()]
    lines.append(_row("**the file**", f"**{record['megabytes']:.2f}**"))
    lossless = record["lossless_megabytes_all_crops"]
    note = (
        f"The JPEG training crops are {record['train_psnr_db']} dB from the crops as cut: "
        f"{record['train_mean_abs_difference']} grey levels of 255 apart on average, "
        f"{record['train_max_abs_difference']} at most. Lossless, the crops alone would take "
        + " or ".join(f"{mb} MB as {fmt}" for fmt, mb in lossless.items())
        + "."
    )
    return "\n".join([header, *lines, "", note])


def confidence_table(record: dict) -> str:
    """Per model: how the confidence tracks the error, and how it flags hidden points."""
    header = (
        "| model | error, confidence 0.9-1 | error, below 0.8 | Spearman (confidence, error) "
        "| ROC area: hidden under a patch | mean confidence, hidden / visible |\n"
        "| --- | --- | --- | --- | --- | --- |"
    )
    lines = []
    for name, r in record.items():
        if not isinstance(r, dict):
            continue
        rows = r["by_confidence"]
        low = [row for row in rows if row["confidence"][1] <= 0.8]
        low_share = sum(row["share"] for row in low)
        low_error = sum(row["share"] * row["mean_error"] for row in low) / low_share
        top = rows[-1]
        lines.append(_row(
            name, f"{_pct(top['mean_error'], 2)} ({_pct(top['share'], 1)} of points)",
            f"{_pct(low_error, 2)} ({_pct(low_share, 1)})", f"{r['spearman_confidence_error']}",
            f"{r['occlusion_auc']}",
            f"{r['mean_confidence_covered']} / {r['mean_confidence_uncovered']}",
        ))  # fmt: skip
    errors = "Errors are mean point errors over the face's outer-eye-corner distance."
    return "\n".join([header, *lines, "", errors])


def pose_table(record: dict) -> str:
    """The head pose's error on synthetic faces (each angle's mean and worst) and as the roll
    on the clip's known rotation."""
    header = "| test | yaw | pitch | roll |\n| --- | --- | --- | --- |"
    lines = []
    for row in record["synthetic"]:
        mean, worst = row["mean_error"], row["worst_error"]
        name = (f"{row['poses']} synthetic poses, face {row['face_width_px']} px wide, "
                f"{row['noise_px']:g} px noise: mean (worst)")  # fmt: skip
        cells = [f"{mean[a]:.2f}° ({worst[a]:.2f}°)" for a in ("yaw", "pitch", "roll")]
        lines.append(_row(name, *cells))
    for model, r in record["clip"].items():
        low, high = r["degrees_turned"]
        name = f"the clip's rotation ({low:g}° to {high:g}°, {r['frames']} frames), {model}"
        roll = f"{r['mean_roll_error']:.2f}° ({r['worst_roll_error']:.2f}°)"
        lines.append(_row(name + ": mean (worst)", "", "", roll))
    return "\n".join([header, *lines])


def web_speed_table(record: dict) -> str:
    """ms per face of both shipped models in Chromium and on native ONNX Runtime."""
    threads = record["runtime"]["threads"]
    header = (
        f"| model | Chromium, WebAssembly ({threads} thread{'s' if threads > 1 else ''}) "
        "| ONNX Runtime, native | Chromium / native |\n| --- | --- | --- | --- |"
    )
    lines = []
    for name, label in (("unet", "shipped UNet"), ("fast", "fast model")):
        page, native = (
            record["speed"][name][k] for k in ("ms_per_face_chromium", "ms_per_face_onnxruntime")
        )
        lines.append(_row(label, f"{page:.2f} ms", f"{native:.2f} ms", f"{page / native:.1f}×"))
    return "\n".join([header, *lines])


def web_table(record: dict) -> str:
    """The browser demo beside Python: ms per face in Chromium and on native ONNX Runtime,
    how far its points are from Python's, its search for faces, and the clip by webcam."""
    crops, search, clip = record["crops_max_px"], record["search"], record["clip"]
    found_nme = {  # None where a side found no face
        k: "no face found" if search[k] is None else _pct(search[k], 2)
        for k in ("nme_page_found", "nme_detector_found")
    }
    notes = [
        f"Times are ms per face at batch 1 without the mirror, from a model-ready crop to points, "
        f"on {record['hardware']}; {record['chromium']}.",
        f"Largest distance from Python's points: {max(crops.values()):.3f} px on "
        f"validation crops, {record['photo_max_px']:.3f} px on photos with the same box.",
        f"The page's search (no detector) found {_pct(search['found_page'], 0)} of "
        f"{search['faces']} validation faces in their photos "
        f"(NME {found_nme['nme_page_found']}), the detector "
        f"{_pct(search['found_detector'], 0)} (NME {found_nme['nme_detector_found']}); "
        "a search took "
        f"{search['ms_per_photo_page_median'] / 1000:.1f} s a photo (median).",
        f"The clip by fake webcam: NME {_pct(clip['nme_page'], 2)} in the page, "
        f"{_pct(clip['nme_python'], 2)} by the Python tracker on the same {clip['frames_scored']} "
        f"frames (the page tracked {clip['frames_seen']} of the clip's {clip['frames']} as the "
        f"camera played it; {clip['frames_settling']} left out after a search or the restart, "
        f"and {clip['page_off']} where the page's points were off the face, {clip['python_off']} "
        "where Python's were); "
        f"{clip['fps_page']:.0f} frames/s, "
        f"{clip['ms_per_frame_page_median']:.1f} ms a frame (median).",
    ]
    return "\n".join([web_speed_table(record), "", " ".join(notes)])


def notebook_times_table(root: Path = REPO_ROOT) -> str:
    """Each notebook's full-profile run: its time, its training time and the machine it ran on."""
    header = "| notebook | record | run | training | machine |\n| --- | --- | --- | --- | --- |"
    lines = []
    for notebook, name in NOTEBOOK_RECORDS.items():
        path = root / "results" / f"{name}.json"
        if not path.is_file():
            continue
        record = json.loads(path.read_text())
        train = record.get("train_seconds", 0)
        train = sum(train.values()) if isinstance(train, dict) else train
        lines.append(_row(notebook, f"`results/{name}.json`",
                          f"{record['notebook_seconds'] / 60:.1f} min", f"{train / 60:.1f} min",
                          record["hardware"]))  # fmt: skip
    return "\n".join([header, *lines])


def mutation_table(record: dict) -> str:
    """The mutation score of each mutated module: its mutants, how many a test killed."""
    header = "| module | mutants | killed | alive | score |\n| --- | ---: | ---: | ---: | ---: |"

    def line(name: str, c: dict) -> str:
        alive = c["survived"] + c["no test"]
        return _row(
            name, str(c["killed"] + alive), str(c["killed"]), str(alive), _pct(c["score"], 1)
        )

    lines = [line(f"`{module}`", counts) for module, counts in record["modules"].items()]
    lines.append(line("all", record["total"]))
    if record["minutes"] is None:  # reported from mutmut's results, never run whole here
        return "\n".join([header, *lines])
    note = f"{record['workers']} workers, {record['minutes']:.0f} min for the whole run."
    return "\n".join([header, *lines, "", note])


NOTEBOOK_RECORDS = {"01": "nose_tip", "02": "full_face", "03": "ibug", "04": "heatmaps"}


# name: (the record it reads, the command that writes it, how it reads)
MEASURED = {
    "inference": ("benchmark_inference", "benchmark --inference", inference_table),
    "detector": ("benchmark_inference", "benchmark --inference", detector_table),
    "memory": ("benchmark_memory", "benchmark --memory", memory_table),
    "candidates": ("benchmark_candidates", "benchmark --candidates", candidates_table),
    "training": ("benchmark_training", "benchmark", training_table),
    "pack": ("pack", "pack --record", pack_table),
    "confidence": ("confidence", "confidence", confidence_table),
    "pose": ("pose", "pose-check", pose_table),
    "quantize": ("quantize", "quantize", quantize_table),
    "video": ("video", "clip", video_table),
    "video_fast": ("video_fast", "clip --fast", video_table),
    "web": ("web", "web-check", web_table),
    "web_speed": ("web", "web-check", web_speed_table),
    "recipe_study": ("recipe_study", "recipe-study", recipe_study_table),
    "part3_studies": (
        "ibug",
        "notebooks --profile full notebooks/03_ibug_resnet18.ipynb",
        part3_studies_table,
    ),
    "loss_study": (
        "heatmaps",
        "notebooks --profile full notebooks/04_heatmaps.ipynb",
        loss_study_table,
    ),
    "mutation": ("mutation", "python tools/mutation.py", mutation_table),
}
TABLES = ("results", "notebook_times", *MEASURED)


def render(name: str, root: Path = REPO_ROOT) -> str:
    """One table from its records under `root`, or how to make a record that is missing."""
    if name == "results":
        return results_table(root)
    if name == "notebook_times":
        return notebook_times_table(root)
    if name not in MEASURED:
        raise ValueError(f"no table named {name!r}; known: {sorted(TABLES)}")
    record_name, command, table = MEASURED[name]
    path = root / "results" / f"{record_name}.json"
    if not path.is_file():
        run = command if command.startswith("python ") else f"python -m helpers {command}"
        return f"*Not measured on this copy: run `{run}`.*"
    record = json.loads(path.read_text())
    return "\n".join([f"*On {record['hardware']}.*", "", table(record)])


PAGES = (
    "README.md",
    "docs/speed.md",
    "docs/training.md",
    "docs/photos.md",
    "docs/video.md",
    "docs/testing.md",
    "docs/browser.md",
)
BLOCK = re.compile(r"<!-- table:(\w+) -->\n.*?\n<!-- /table:\1 -->", re.S)


def sync(text: str, root: Path = REPO_ROOT) -> str:
    """A page with each of its tables regenerated from the records under `root`."""

    def table(match: re.Match) -> str:
        name = match.group(1)
        return f"<!-- table:{name} -->\n{render(name, root)}\n<!-- /table:{name} -->"

    return BLOCK.sub(table, text)
