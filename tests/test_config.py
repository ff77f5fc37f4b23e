"""Profiles: one place for settings, with the course's exact Part 3 settings one switch away."""

import os
import subprocess
import sys

import pytest

from helpers import config


def test_course_profile_keeps_the_course_settings():
    course = config.get_profile("course").ibug
    assert (course.crop_size, course.epochs, course.lr) == (224, 50, 1e-3)
    full = config.get_profile("full").ibug
    assert full.crop_size in full.study_sizes and course.crop_size in full.study_sizes


def test_quick_profile_is_smaller_than_full():
    quick, full = config.get_profile("quick"), config.get_profile("full")
    assert quick.ibug.epochs < full.ibug.epochs and quick.ibug.max_train_faces
    assert quick.ibug.study_seconds < full.ibug.study_seconds


def test_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("FKD_PROFILE", "course")
    assert config.get_profile().name == "course"
    with pytest.raises(ValueError, match="Unknown profile"):
        config.get_profile("fast")


def test_hardware_names_the_cpu(monkeypatch, tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 9R14 96-Core Processor\n"
        "flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n"
    )
    monkeypatch.setattr(config, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else p)
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert config.cpu_name() == "AMD EPYC 9R14 96-Core Processor"
    assert config.cpu_features() == "AVX-512, BF16"  # an AVX2-only EPYC reads "AVX2"
    cpuinfo.write_text("model name\t: AMD EPYC 7R13 Processor\nflags\t\t: fpu avx avx2\n")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx2")
    assert config.cpu_features().startswith("AVX2, run as ")
    if not config.torch.cuda.is_available():
        assert config.hardware().startswith("CPU AMD EPYC 7R13 Processor (")


@pytest.mark.parametrize("fail_on_skip, code", [("1", 1), ("0", 0)])
def test_make_test_fails_when_a_test_is_skipped(tmp_path, fail_on_skip, code):
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n\ndef test_a():\n    pytest.skip('x')\n"
    )
    env = {**os.environ, "FKD_FAIL_ON_SKIP": fail_on_skip}
    run = subprocess.run(  # the repository's conftest.py, as a plugin, on a file that skips
        [sys.executable, "-m", "pytest", "-p", "conftest", "-c", os.devnull, str(tmp_path)],
        cwd=config.REPO_ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == code, run.stdout
