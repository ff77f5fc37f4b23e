"""tools/mutation.py's report: it reads mutmut's results in every subpackage and scores each
mutant under the module it mutates."""

import importlib.util
import json

from helpers.config import REPO_ROOT


def _tool():
    spec = importlib.util.spec_from_file_location("mutation", REPO_ROOT / "tools" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_report_reads_every_subpackage_and_names_each_module(tmp_path, monkeypatch):
    tool = _tool()
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    codes = {
        "helpers/crop.py.meta": {"helpers.crop.x_crop_square__mutmut_1": 1},
        "helpers/inference/video.py.meta": {
            "helpers.inference.video.xǁTrackerǁstep__mutmut_2": 0,
            "helpers.inference.video.xǁTrackerǁstep__mutmut_3": 1,
            "helpers.inference.video.x_not_a_target__mutmut_1": 0,
        },
    }
    for path, by_key in codes.items():
        meta = tmp_path / "mutants" / path
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps({"exit_code_by_key": by_key}))
    report = tool.summary(tool.results())
    assert report["modules"]["crop"]["killed"] == 1
    assert report["modules"]["video"]["killed"] == 1 and report["modules"]["video"]["survived"] == 1
    assert report["survivors"] == ["helpers.inference.video.xǁTrackerǁstep__mutmut_2"]
    assert report["total"]["score"] == round(2 / 3, 3)
