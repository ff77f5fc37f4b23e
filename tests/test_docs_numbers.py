"""Every number in the prose of docs/ (outside code blocks and the generated tables) is either
measured, and then read here from its record in results/ or a shipped model's card, or a fixed
fact listed with what it is: a configured setting, a target, a dataset size, a format."""

import json
import re

import pytest

from helpers.config import REPO_ROOT
from helpers.reports import tables

NUMBER = re.compile(r"(?<![\w/.-])(\d[\d,]*(?:\.\d+)?(?:e-?\d+)?)")

# page: {number as written: (record under results/, or "card:<model>" for models/<model>.json,
# key path with "/" between levels, format)}. A format ending in % renders a fraction as a
# percentage, compared without its sign.
MEASURED = {
    "speed": {
        "358": ("ibug", "test_faces", "{}"),
        "221": ("ibug", "val_faces", "{}"),
        "36.2": ("ibug", "train_images_per_second", "{}"),
        "1.03e-06": ("card:landmarks68", "onnx/max_abs_difference", "{:.2e}"),
        "4.34e-07": ("card:landmarks68_fast", "onnx/max_abs_difference", "{:.2e}"),
    },
    "training": {
        # the splits
        "1,987": ("ibug", "train_faces", "{:,}"),
        "221": ("ibug", "val_faces", "{}"),
        "358": ("ibug", "test_faces", "{}"),
        "1,202": ("ibug", "ablation_without_lfpw/train_faces", "{:,}"),
        # run times
        "2742.6": ("ibug", "train_seconds", "{:.1f}"),
        "36.2": ("ibug", "train_images_per_second", "{:.1f}"),
        "2163.7": ("heatmaps", "train_seconds/ibug_resnet18", "{:.1f}"),
        "1097.5": ("heatmaps", "train_seconds/ibug_unet", "{:.1f}"),
        "5923.0": ("release", "train_seconds", "{:.1f}"),
        "3706.9": ("refine", "train_seconds", "{:.1f}"),
        "2301.4": ("fast", "train_seconds", "{:.1f}"),
        "3906.3": ("fast_refine", "train_seconds", "{:.1f}"),
        "3068.1": ("fast_refine2", "train_seconds", "{:.1f}"),
        # Parts 1 and 2
        "13.87": ("nose_tip", "val_median_error_px", "{:.2f}"),
        "2.610": ("nose_tip", "val_mean_error_px_80x60", "{:.3f}"),
        "38.27": ("full_face", "seed_val_mean_error_px", "{:.2f}"),
        "16.46": ("full_face", "tuned_val_mean_error_px_without_tta", "{:.2f}"),
        "19.09": ("full_face", "val_error_px_by_group/jaw", "{:.2f}"),
        "14.58": ("full_face", "val_error_px_by_group/eyes", "{:.2f}"),
        "15.32": ("full_face", "val_error_px_by_group/brows", "{:.2f}"),
        "15.93": ("full_face", "val_error_px_by_group/mouth", "{:.2f}"),
        "15.17": ("full_face", "val_error_px_by_group/nose", "{:.2f}"),
        # Part 3 (its groups and subsets are in the table under the release run)
        "4.309": ("ibug", "val_nme_without_mirrored_prediction", "{:.3%}"),
        "3.200": ("ibug", "val_mae_px", "{:.3f}"),
        "6.65": ("ibug", "val_nme_by_group/jaw", "{:.2%}"),
        "2.66": ("ibug", "val_nme_by_group/eyes", "{:.2%}"),
        "4.56": ("ibug", "val_nme_by_subset/afw", "{:.2%}"),
        "4.22": ("ibug", "val_nme_by_subset/helen", "{:.2%}"),
        "4.20": ("ibug", "val_nme_by_subset/lfpw", "{:.2%}"),
        "4.705": ("ibug", "ablation_without_lfpw/val_nme", "{:.3%}"),
        "5.06": ("ibug", "ablation_without_lfpw/val_nme_by_subset/afw", "{:.2%}"),
        "4.55": ("ibug", "ablation_without_lfpw/val_nme_by_subset/helen", "{:.2%}"),
        "4.75": ("ibug", "ablation_without_lfpw/val_nme_by_subset/lfpw", "{:.2%}"),
        # Part 4
        "5.29": ("heatmaps", "full_face_error_px_without_mirrored_prediction", "{:.2f}"),
        "8.75": ("heatmaps", "full_face_error_px_by_group/jaw", "{:.2f}"),
        "3.58": ("heatmaps", "full_face_error_px_by_group/nose", "{:.2f}"),
        "2.44": ("heatmaps", "nose_tip_error_px_58_point_model", "{:.2f}"),
        "3.380": ("heatmaps", "resnet18_heatmaps_val_nme_without_mirrored_prediction", "{:.3%}"),
        "3.352": ("heatmaps", "unet_heatmaps_val_nme_without_mirrored_prediction", "{:.3%}"),
        "32.69": ("heatmaps", "ms_per_face_batch1_mirrored/ResNet18 heatmaps", "{:.2f}"),
        "16.53": ("heatmaps", "ms_per_face_batch1_mirrored/UNet heatmaps", "{:.2f}"),
        "19.74": ("heatmaps", "ms_per_face_batch1_mirrored/regression (Part 3)", "{:.2f}"),
        "5.49": ("heatmaps", "ibug_val_nme_by_group/jaw", "{:.2%}"),
        "3.60": ("heatmaps", "ibug_val_nme_by_group/brows", "{:.2%}"),
        "2.28": ("heatmaps", "ibug_val_nme_by_group/nose", "{:.2%}"),
        "2.52": ("heatmaps", "ibug_val_nme_by_group/mouth", "{:.2%}"),
        "1.93": ("heatmaps", "ibug_val_nme_by_group/eyes", "{:.2%}"),
        "3.59": ("heatmaps", "ibug_val_nme_by_subset/afw", "{:.2%}"),
        "3.15": ("heatmaps", "ibug_val_nme_by_subset/helen", "{:.2%}"),
        "3.33": ("heatmaps", "ibug_val_nme_by_subset/lfpw", "{:.2%}"),
        # the recipe study's outline
        "6.03": ("recipe_study", "candidates/outline weight 2/val_nme_by_group/jaw", "{:.2%}"),
        "6.17": ("recipe_study", "candidates/shipped recipe/val_nme_by_group/jaw", "{:.2%}"),
        # the release model
        "5.38": ("release", "val_nme_by_group/jaw", "{:.2%}"),
        "1.89": ("release", "val_nme_by_group/eyes", "{:.2%}"),
        "3.43": ("release", "val_nme_by_subset/afw", "{:.2%}"),
        "3.02": ("release", "val_nme_by_subset/helen", "{:.2%}"),
        "3.29": ("release", "val_nme_by_subset/lfpw", "{:.2%}"),
        "3.281": ("card:landmarks68", "val_nme_without_mirrored_prediction", "{:.3%}"),
        "3,876,517": ("card:landmarks68", "bytes", "{:,}"),
        # training on from it
        "3.21": ("refine", "val_nme", "{:.2%}"),
        "0.5994": ("refine", "val_auc8", "{:.4f}"),
        "0.45": ("refine", "val_failure8", "{:.2%}"),
        "5.42": ("refine", "val_nme_by_group/jaw", "{:.2%}"),
        "3.324": ("refine", "val_nme_without_mirrored_prediction", "{:.3%}"),
        # the fast model's first two runs, and the jaw of all three
        "4.491": ("fast", "val_nme", "{:.3%}"),
        "4.656": ("fast", "val_nme_without_mirrored_prediction", "{:.3%}"),
        "0.4428": ("fast", "val_auc8", "{:.4f}"),
        "4.07": ("fast", "val_failure8", "{:.2%}"),
        "6.95": ("fast", "val_nme_by_group/jaw", "{:.2%}"),
        "4.029": ("fast_refine", "val_nme", "{:.3%}"),
        "4.203": ("fast_refine", "val_nme_without_mirrored_prediction", "{:.3%}"),
        "0.4981": ("fast_refine", "val_auc8", "{:.4f}"),
        "1.36": ("fast_refine", "val_failure8", "{:.2%}"),
        "6.27": ("fast_refine", "val_nme_by_group/jaw", "{:.2%}"),
        "6.14": ("fast_refine2", "val_nme_by_group/jaw", "{:.2%}"),
    },
    "video": {
        "375": ("video", "frames", "{}"),
        "38": ("video", "tracking, smoothed/frames_gone", "{}"),
    },
    "photos": {
        "3,876,517": ("card:landmarks68", "bytes", "{:,}"),
        "3.192": ("card:landmarks68", "val_nme", "{:.3%}"),
        "235,527": ("card:landmarks68_fast", "bytes", "{:,}"),
        "4.117": ("card:landmarks68_fast", "val_nme_without_mirrored_prediction", "{:.3%}"),
        "1.51": ("ibug", "crop_factor", "{}"),
        "0.047": ("ibug", "crop_shift", "{}"),
    },
    "data": {
        "1,987": ("ibug", "train_faces", "{:,}"),
        "221": ("ibug", "val_faces", "{}"),
        "358": ("ibug", "test_faces", "{}"),
        "1.51": ("ibug", "crop_factor", "{}"),
        "0.047": ("ibug", "crop_shift", "{}"),
        "3.200": ("ibug", "val_mae_px", "{:.3f}"),
    },
    "browser": {},  # its measurements are in its generated table
}

# page: the fixed facts its prose quotes, each with what it is.
FIXED = {
    "speed": {
        "1",  # batch 1, the 1× baseline
        "2",  # 2 cores; a found face is 0.5 to 2 times the box
        "3",  # --steps 3, the benchmark's default
        "4",
        "8",
        "16",  # FastNet's strides 4, 8, 16; --batch 8; width 16
        "10",  # the release's limit, ms per face
        "18",  # the ONNX opset (export.OPSET)
        "20",  # faces dlib and the image-and-box rows are timed on (benchmark.batch1_timers)
        "32",  # the batch-32 rows
        "40",
        "0.01",  # tests/test_export.py: 40 faces within 0.01 px
        "48",
        "512",
        "100",  # benchmark --memory's photos: 512 px, 48 MP, 100 MP (the size limit)
        "68",  # points
        "0.3",  # the fast model's allowed margin, pp
        "0.5",  # detect.finds: 0.5 to 2 times the box
        "1.1",  # precision.PROBE_MIN_SPEEDUP
        "128",
        "224",  # crop sizes: the full profile's and the course's; --size 128
        "256",  # quantize --calibration's default
        "300",  # 300-W
        "0.12",  # predict.DEFAULT_THRESHOLD
        "1000",  # photos.DETECT_MAX_SIDE
    },
    "training": {
        "0",  # rank 0
        "0.1",  # px: how closely the batch augmentation's points follow its pixels (tested)
        "40",
        "64",  # MiB: the GPU machine's carried files, and the repository's share of them
        "1",
        "2",
        "3",
        "4",
        "5",  # parts, notebooks, 2 cores, batches of 4, the 1× target
        "6",
        "10",
        "3.6",
        "3.0",
        "0.63",
        "0.5",
        "0.3",  # the targets
        "8",  # batches of 8, AUC@8%
        "16",
        "32",  # Part 1's channel study; FastNet's width 16 and stride 16
        "17",  # the outline points
        "24",  # a candidate's width
        "25",
        "30",
        "50",
        "60",
        "100",
        "255",  # epoch counts
        "1e-3",
        "1e-4",
        "3e-4",  # learning rates
        "58",
        "68",
        "136",  # points, and the 136 outputs of Part 3's head
        "80",
        "160",
        "120",
        "240",
        "180",
        "128",
        "224",
        "640",
        "480",  # input and photo sizes; 120 s the loss study's budget
        "90",
        "210",  # the learning-rate study's and the recipe study's seconds per setting
        "1.5",  # sigma of the Gaussian maps
        "0.8",  # the strong augmentation's scale from 0.8 to 1.2, rotation ±30°
        "300",  # 300-W
        "29",
        "95",
        "97",  # the validation split's faces per subset (AFW, HELEN, LFPW)
        "2,208",
        "882",  # the training XML's faces, LFPW's among them
        "3,100",  # the full 300-W training set, about
        "48,688",  # 358 faces × 136 coordinates, the Kaggle file's rows
    },
    "video": {
        "0.25",
        "50",  # the blink rule's settings (signals.OPEN_EAR, MIN_BLINK_S; checked below)
        "68",
        "0.3",
        "0.2",  # One Euro's defaults (min cutoff in Hz, beta); the 0.2 pp smoothing target
        "3",  # the smoothing target, at least 3× less jitter
        "0.5",  # video.MIN_CONFIDENCE
        "80",  # the smallest face dlib's HOG finds without upsampling
        "2012",  # the One Euro filter's citation
        "640",
        "480",  # the clip's frame
        "1.5",
        "25",
        "60",
        "4",  # the clip: zoom to 1.5×, rotation to ±25°, a 60-frame still, noise sigma 4
        "8",  # found again: NME under 8% (clip.FAILURE)
        "100",  # the fast model's aim, frames/s file to file
        "300",  # 300-W
    },
    "photos": {
        "0.2",
        "0.3",  # eye aspect ratios: shut, open (the literature's)
        "10",  # degrees: published errors of pose from landmarks and a mean face
        "2016",  # Soukupová and Čech's year
        "98",  # SPIGA's mean face's points
        "0.5",  # the ROC area of a flag blind to the patch
        "0.8",  # a confidence edge the table uses
        "0",
        "1",
        "2",
        "3",  # exit codes; confidence 0 to 1; grey (H, W, 1), (H, W, 2)
        "4",  # notebook 4
        "6",  # the EXIF orientation of a photo stored sideways
        "16",  # 16-bit images
        "48",
        "512",
        "100",  # the memory benchmark's photos; images.MAX_PHOTO_PIXELS, in megapixels
        "68",  # points
        "128",  # the model's crop size
        "300",  # 300-W
        "0.12",  # predict.DEFAULT_THRESHOLD
        "1000",  # photos.DETECT_MAX_SIDE
        "3815",
        "2250",
        "3031",
        "2498",  # the demo photos' sizes
    },
    "data": {
        "0",
        "1",
        "2",
        "3",
        "4",  # parts, and the Kaggle Id's coordinate (0 x, 1 y)
        "240",
        "40",
        "58",  # IMM: 240 images of 40 people, 58 points
        "32",
        "33",  # IMM's split: persons 1-32 train, 33-40 validate
        "68",
        "136",  # 300-W's points, and its 136 coordinates per face in the Kaggle file
        "300",  # 300-W
        "640",
        "480",  # IMM's photo size
        "2,208",  # the 300-W training file's faces
        "48,688",  # 358 faces × 136 coordinates, the Kaggle file's rows
    },
    "browser": {
        "0",
        "2",
        "4",  # 4:2:0 video
        "3",  # the mean 3D face
        "0.8",  # the search's scale step (web.SEARCH; checked below)
        "128",  # the crop's side
        "14",  # MB of the runtime's WebAssembly build
        "16",  # megapixels: photos.REDUCE_ABOVE (checked below)
        "68",
        "300",  # 300-W
        "8000",  # the server's default port
    },
}

PAGES = tuple(MEASURED)


def prose(page: str) -> str:
    """A page's text without its generated tables and its code blocks."""
    text = (REPO_ROOT / "docs" / f"{page}.md").read_text()
    return re.sub(r"```.*?```", "", tables.BLOCK.sub("", text), flags=re.S)


def numbers(text: str) -> set[str]:
    return {n.rstrip(",") for n in NUMBER.findall(text)}


def recorded(source: str, key: str, fmt: str) -> str:
    """The value at `key` in a record or a card, written as `fmt` writes it."""
    if source.startswith("card:"):
        path = REPO_ROOT / "models" / f"{source.removeprefix('card:')}.json"
    else:
        path = REPO_ROOT / "results" / f"{source}.json"
    value = json.loads(path.read_text())
    for part in key.split("/"):
        value = value[part]
    text = fmt.format(value)
    return text.removesuffix("%") if fmt.endswith("%}") else text


@pytest.mark.parametrize("page", PAGES)
def test_every_number_in_a_docs_page_comes_from_a_record_or_is_a_fixed_fact(page):
    found = numbers(prose(page))
    unexplained = found - set(MEASURED[page]) - FIXED[page]
    assert not unexplained, f"docs/{page}.md: numbers with no record: {sorted(unexplained)}"
    for number, (source, key, fmt) in MEASURED[page].items():
        assert recorded(source, key, fmt) == number, (page, number, source, key)
    unused = (set(MEASURED[page]) | FIXED[page]) - found
    assert not unused, f"docs/{page}.md no longer quotes {sorted(unused)}: drop them here"


def test_fixed_facts_that_are_constants_in_the_code_match_them():
    from helpers.images import MAX_PHOTO_PIXELS
    from helpers.inference import signals, video
    from helpers.inference.export import OPSET
    from helpers.inference.photos import DETECT_MAX_SIDE
    from helpers.inference.predict import DEFAULT_THRESHOLD
    from helpers.reports import clip
    from helpers.training.precision import PROBE_MIN_SPEEDUP

    speed, photos, video_page = prose("speed"), prose("photos"), prose("video")
    from helpers.inference.photos import REDUCE_ABOVE
    from helpers.reports import web

    browser = prose("browser")
    assert f"each {web.SEARCH.scale_step} times" in browser.replace("\n", " ")
    assert f"over {REDUCE_ABOVE // 1_000_000} megapixels" in browser.replace("\n", " ")
    blink_rule = (
        f"under {signals.CLOSE_EAR}, then back\nover {signals.OPEN_EAR}, for "
        f"{signals.MIN_BLINK_S * 1000:.0f} ms to half a second"
    )
    assert blink_rule in video_page and signals.MAX_BLINK_S == 0.5
    assert f"opset {OPSET}" in speed
    assert f"at least {PROBE_MIN_SPEEDUP} times as fast" in speed
    for text in (speed, photos):
        assert f"threshold, {DEFAULT_THRESHOLD}," in text or f"of {DEFAULT_THRESHOLD} by" in text
        assert f"at most {DETECT_MAX_SIDE} px wide" in text
        assert f"over {MAX_PHOTO_PIXELS // 1_000_000} megapixels" in text
    assert f"falls under {video.MIN_CONFIDENCE}" in video_page
    assert f"a {clip.FRAME[0]}×{clip.FRAME[1]} frame" in video_page
    assert f"sigma {clip.NOISE:g} grey levels" in video_page
    assert f"NME under {clip.FAILURE:.0%}" in video_page
