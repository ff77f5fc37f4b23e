"""The README's results table, generated from the records in results/ and the shipped models'
cards, so it cannot disagree with them (`python -m helpers writeup --readme` rewrites it; a test
fails when the README's copy differs)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..config import REPO_ROOT

BEGIN, END = "<!-- results-table:begin -->", "<!-- results-table:end -->"
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
        nme = hm[f"{name.lower().replace(' ', '_')}_val_nme"]
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


def with_table(readme: str, table: str) -> str:
    """The README text with the table between its markers replaced."""
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise ValueError(f"the README has no {BEGIN} ... {END} block")
    return pattern.sub(lambda _: f"{BEGIN}\n{table}\n{END}", readme)
