"""The GPU job run here on the CPU in its tiny profile, what it brings back checked and shipped,
and training through torchrun: two processes end with the same weights, and a killed run
resumes to where an unbroken one ends."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.config import REPO_ROOT
from helpers.data import pack
from helpers.data.batch_augment import BatchAugment
from helpers.inference import modelfile
from helpers.training import gpu_results, resident

JOB = REPO_ROOT / "tools" / "gpu_job.py"
WORKER = REPO_ROOT / "tests" / "ddp_worker.py"
OUTPUTS = {"job.json", "job.log", "teacher.pt", "SHA256SUMS"} | {
    f"student_{name}" for name in ("landmarks68.pt", "landmarks68_fast.pt")
}


def _env(tmp_path: Path) -> dict:
    """The subprocess environment: one thread, its own cache, the repository importable."""
    return {
        **os.environ,
        "FKD_CACHE_DIR": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO_ROOT),
    }


@pytest.fixture(scope="module")
def job_out(data_root, tmp_path_factory):
    """A tiny pack (32 training faces at 64 px) and the tiny GPU job's output folder."""
    tmp = tmp_path_factory.mktemp("gpu_job")
    pack_file = tmp / "pack.npz"
    assert pack.main(["--size", "64", "--max-train-faces", "32", "--out", str(pack_file)]) == 0
    out = tmp / "out"
    command = [sys.executable, str(JOB), "--pack", str(pack_file), "--out", str(out)]
    done = subprocess.run(
        [*command, "--profile", "tiny"], env=_env(tmp), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def test_the_tiny_job_trains_every_step_and_says_how_fast(job_out):
    out, stdout = job_out
    assert {p.name for p in out.iterdir()} == OUTPUTS
    job = json.loads((out / "job.json").read_text())
    assert list(job["steps"]) == ["teacher", "landmarks68.pt", "landmarks68_fast.pt"]
    for step in job["steps"].values():
        assert step["epochs"] == 2 and step["images_per_second"] > 0
        assert 0 < step["val_nme"] < 5 and len(step["val_loss"]) == 2  # tiny: barely trained
    assert job["steps"]["landmarks68.pt"]["teacher"] == "tiny"
    assert stdout.count("images/s") >= 6 and "done in" in stdout  # a line per epoch and step
    assert (out / "job.log").read_text() == stdout


def test_what_the_job_brings_back_is_verified_scored_and_shipped_only_if_better(
    job_out, tmp_path, capsys
):
    out, _ = job_out
    kept = tmp_path / "models" / "landmarks68.pt"  # a better model already there
    kept.parent.mkdir()
    kept.write_bytes(b"the model shipped before")
    modelfile.card_path(kept).write_text(json.dumps({"val_nme": 0.001, "sha256": None}))
    assert gpu_results.main([str(out), "--out", str(tmp_path)]) == 0
    assert kept.read_bytes() == b"the model shipped before"
    fast = tmp_path / "models" / "landmarks68_fast.pt"
    model, settings = modelfile.load_landmarker(fast)  # shipped: nothing was there
    assert settings.crop_size == 64 and settings.architecture["name"] == "FastNet"
    results = json.loads((tmp_path / "results" / "gpu_fast.json").read_text())
    assert results["shipped"] and len(results["val_nme_per_face"]["gpu_fast"]) == 221
    assert results["trained_on"].endswith("1 process(es)")
    job = json.loads((out / "job.json").read_text())["steps"]["landmarks68_fast.pt"]
    for name in ("val_nme", "val_nme_without_mirror"):  # the pack's lossless crops: same scores
        here = results[name.replace("mirror", "mirrored_prediction")]
        assert here == pytest.approx(job[name], abs=2e-5)
    assert (tmp_path / "results" / "kaggle_submission_gpu.csv").is_file()
    assert "student_landmarks68.pt: validation NME" in capsys.readouterr().out


def test_a_changed_file_from_the_job_is_refused(job_out, tmp_path, capsys):
    out, _ = job_out
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in out.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    student = copy / "student_landmarks68.pt"
    student.write_bytes(student.read_bytes() + b"\0")
    assert gpu_results.main([str(copy), "--out", str(tmp_path)]) == 2
    assert "SHA-256 is not the one the job wrote" in capsys.readouterr().err


def _torchrun(tmp_path: Path, checkpoint: Path, out: Path, epochs: int) -> subprocess.Popen:
    """Two CPU processes (gloo) of the worker, in their own process group."""
    out.mkdir(exist_ok=True)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc-per-node=2", str(WORKER), str(checkpoint), str(out), str(epochs)]
    return subprocess.Popen(command, env=_env(tmp_path), start_new_session=True)


def _weights(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def test_two_torchrun_processes_agree_and_a_killed_run_resumes_to_the_same_weights(tmp_path):
    epochs = 12
    whole = tmp_path / "whole"
    assert _torchrun(tmp_path, tmp_path / "whole.pt", whole, epochs).wait(300) == 0
    ranks = [_weights(whole / f"rank{r}.pt") for r in (0, 1)]
    for a, b in zip(ranks[0].values(), ranks[1].values(), strict=True):
        assert torch.equal(a, b)  # DistributedDataParallel kept the ranks in step

    checkpoint, broken = tmp_path / "broken.pt", tmp_path / "broken"
    run = _torchrun(tmp_path, checkpoint, broken, epochs)
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(run.pid, signal.SIGKILL)  # torchrun and both workers, mid-run
    run.wait()
    done = torch.load(checkpoint, weights_only=True)["done"]
    assert 1 <= done < epochs  # killed after a checkpoint and before the end
    assert _torchrun(tmp_path, checkpoint, broken, epochs).wait(300) == 0
    for a, b in zip(_weights(broken / "rank0.pt").values(), ranks[0].values(), strict=True):
        assert torch.equal(a, b)


def test_fit_needs_epochs_or_minutes():
    crops = resident.Crops(torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4, 2, 2))
    with pytest.raises(ValueError, match="epochs or minutes"):
        resident.fit(
            torch.nn.Identity(),
            crops,
            crops,
            augment=None,
            loss_fn=torch.nn.MSELoss(),
            lr=1e-3,
            batch_size=2,
        )


def test_a_run_given_minutes_fits_its_epochs_to_its_pace_after_two():
    torch.manual_seed(0)
    crops = resident.Crops(
        torch.randint(0, 256, (32, 3, 8, 8), dtype=torch.uint8), torch.rand(32, 2, 2) * 7
    )
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(192, 4), torch.nn.Unflatten(1, (2, 2))
    )
    lines = []
    run = resident.fit(
        model,
        crops,
        crops,
        augment=BatchAugment(np.array([1, 0])),
        loss_fn=torch.nn.MSELoss(),
        lr=1e-3,
        batch_size=4,
        minutes=0.02,
        log=lines.append,
    )
    assert run.epochs == run.done > 2 and len(run.history.val) == run.done
    assert 0.6 < run.history.seconds < 5  # 1.2 s planned from the second epoch's pace
    assert lines[0].startswith("epoch 1/?") and lines[-1].startswith(f"epoch {run.done}/{run.done}")
    assert resident.cosine(1.0, 0, None) == 1.0 and resident.cosine(1.0, 5, 10) == pytest.approx(
        0.5
    )
