"""Mutation testing, with mutmut, of the functions where a wrong line is silently wrong: the
crop and its inverse, the heatmap codec, the model file and its ship rule, the tracker's
decisions and the metrics.

Usage: python tools/mutation.py [NAME_PATTERN...] [--max-children N] [--out results/mutation.json]

mutmut (configured in pyproject.toml: the files it copies, the fast tests it may run) changes
one line at a time in the functions of TARGETS and runs the tests that cover it; a mutant that
no test fails on "survived". This prints the mutation score of each module and every survivor
(`mutmut show NAME` prints its diff), and writes the counts as JSON. Every run tests all the
mutants of TARGETS again; NAME_PATTERNs (mutmut's names, * as a wildcard) test only those,
for example the survivors after a new test, and the report still covers every target from the
results mutmut keeps in mutants/.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from helpers.config import hardware

ROOT = Path(__file__).resolve().parents[1]

# mutmut's names: helpers.<module>.x_<function>__mutmut_<n>, methods xǁ<Class>ǁ<method>__...
TARGETS = {
    "crop and its inverse": [
        "helpers.crop.x_crop_square__*",
        "helpers.crop.x_crop_face__*",
        "helpers.crop.x_crops_to_image__*",
        "helpers.crop.x_prepare_image__*",
        "helpers.inference.detect.x_calibrate__*",
        "helpers.inference.predict.xǁLandmarkerǁbatch__*",
        "helpers.inference.predict.xǁLandmarkerǁdetect__*",
        "helpers.inference.predict.xǁLandmarkerǁcrops__*",
        "helpers.inference.predict.xǁLandmarkerǁfrom_crops__*",
        "helpers.geometry.x_box_to_crop__*",
        "helpers.geometry.x_crop_to_box__*",
        "helpers.geometry.x_resize_points__*",
        "helpers.geometry.x_mirror_*",
    ],
    "heatmap codec": ["helpers.nets.heatmaps.*", "helpers.nets.tta.*"],
    "model file and ship rule": ["helpers.inference.modelfile.*"],
    "tracker's decisions": [
        "helpers.inference.video.x_box_from_points__*",
        "helpers.inference.video.xǁOneEuroǁ*",
        "helpers.inference.video.xǁTrackerǁ*",
    ],
    "metrics": [
        "helpers.geometry.x_point_errors__*",
        "helpers.geometry.x_normalized_errors__*",
        "helpers.geometry.x_nme__*",
        "helpers.geometry.x_nme_by_group__*",
        "helpers.geometry.x_ced__*",
        "helpers.geometry.x_auc__*",
        "helpers.geometry.x_failure_rate__*",
        "helpers.training.evaluate.x_mean_by__*",
        "helpers.training.evaluate.x_ibug_scores__*",
        "helpers.training.evaluate.xǁIbugScoresǁ*",
        "helpers.reports.clip.x_interocular__*",
        "helpers.reports.clip.x_score__*",
        "helpers.reports.clip.x_jitter__*",
        "helpers.reports.baseline.x_dlib_ms_per_face__*",
    ],
}
PATTERNS = [p for patterns in TARGETS.values() for p in patterns]
KILLED = {1, 3, 36, 37, -24, 24, 152, 255}  # a failed test, an error, a timeout, a type error
STATUS = {0: "survived", 5: "no test", 33: "no test", None: "pending"}  # mutmut's exit codes


def results() -> dict[str, int | None]:
    """Each targeted mutant's exit code as mutmut recorded it (None: not tested yet)."""
    codes = {}
    for meta in sorted((ROOT / "mutants" / "helpers").rglob("*.py.meta")):  # subpackages too
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if any(fnmatch.fnmatchcase(name, p) for p in PATTERNS):
                codes[name] = code
    return codes


def summary(codes: dict[str, int | None]) -> dict:
    """Killed, survived and untested mutants per module, and the survivors by name."""
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors = []
    for name, code in codes.items():
        module = name.split(".x")[0].rsplit(".", 1)[-1]  # helpers.inference.video.xǁ... -> video
        status = STATUS.get(code, "killed" if code in KILLED else "other")
        counts[module][status] += 1
        if status in ("survived", "no test"):
            survivors.append(name)
    modules = {m: _scored(c) for m, c in sorted(counts.items())}
    total = _scored(sum(counts.values(), Counter()))
    return {"modules": modules, "total": total, "survivors": survivors}


def _scored(counts: Counter) -> dict:
    """The counts by status, and the score: the share of mutants a test killed (a mutant that
    no test runs counts as living)."""
    counted = {k: counts[k] for k in ("killed", "survived", "no test", "pending", "other")}
    done = counted["killed"] + counted["survived"] + counted["no test"]
    return {**counted, "score": round(counted["killed"] / max(done, 1), 3)}


def main(argv: list[str] | None = None) -> int:
    """Run mutmut on TARGETS, then print and write the scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="test only these mutants (default: TARGETS)")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "mutation.json")
    parser.add_argument("--report-only", action="store_true", help="read the last run's results")
    args = parser.parse_args(argv)
    # the time of the last whole run: a report, or a retest of named mutants, keeps it
    minutes = json.loads(args.out.read_text()).get("minutes") if args.out.is_file() else None
    if not args.report_only:
        # mutmut runs the tests from a copy in mutants/: the data root must not be relative,
        # and a test that cannot find the data must fail, not skip (a skip would let mutants live)
        data = Path(os.environ.get("FKD_DATA_DIR", ROOT / "data")).resolve()
        env = {**os.environ, "FKD_DATA_DIR": str(data), "FKD_REQUIRE_DATA": "1"}
        env["OMP_NUM_THREADS"] = "1"  # one thread a worker: --max-children workers share the cores
        mutmut = Path(sys.executable).with_name("mutmut")
        names = args.names or PATTERNS
        command = [str(mutmut), "run", "--max-children", str(args.max_children), *names]
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, env=env, check=True)
        if not args.names:
            minutes = round((time.perf_counter() - started) / 60, 1)
    report = summary(results())
    print(f"{'module':10s} {'killed':>7s} {'survived':>9s} {'no test':>8s} {'score':>6s}")
    for module, c in [*report["modules"].items(), ("all", report["total"])]:
        print(
            f"{module:10s} {c['killed']:7d} {c['survived']:9d} {c['no test']:8d} "
            f"{100 * c['score']:5.1f}%" + (f" ({c['pending']} not run)" if c["pending"] else "")
        )
    print(*(f"survived: {name}" for name in report["survivors"]), sep="\n")
    record = {
        "command": "python tools/mutation.py",
        "hardware": hardware(),
        "workers": args.max_children,
        "minutes": minutes,
        **report,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
