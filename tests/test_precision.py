"""The training precision is chosen by the machine: bfloat16 only where it is measured faster."""

from types import SimpleNamespace

import pytest
import torch

from helpers import config
from helpers.training import precision


@pytest.fixture(autouse=True)
def fresh_choice(monkeypatch):
    """Each test decides anew, on the CPU, with no FKD_PRECISION from outside."""
    monkeypatch.delenv("FKD_PRECISION", raising=False)
    precision.by_hardware.cache_clear()
    yield
    precision.by_hardware.cache_clear()


def no_probe():
    raise AssertionError("the probe must not run here")


def test_cpu_without_native_bf16_gets_float32_without_a_probe(monkeypatch):
    monkeypatch.setattr(precision, "cpu_capability", lambda: "AVX2")
    monkeypatch.setattr(precision, "measured_cpu_speedup", no_probe)
    chosen = precision.choose(device_type="cpu")
    assert not chosen.bf16 and "AVX2" in chosen.reason


@pytest.mark.parametrize("speedup, bf16", [(0.1, False), (1.05, False), (2.0, True)])
def test_avx512_cpu_follows_the_measured_probe(monkeypatch, speedup, bf16):
    # AVX-512 alone does not mean native bfloat16 (Skylake has one, not the other)
    monkeypatch.setattr(precision, "cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(precision, "measured_cpu_speedup", lambda: speedup)
    chosen = precision.choose(device_type="cpu")
    assert chosen.bf16 is bf16 and f"{speedup:.2f}x" in chosen.reason


def test_profile_and_environment_can_force_a_precision(monkeypatch):
    monkeypatch.setattr(precision, "measured_cpu_speedup", no_probe)
    assert precision.choose("fp32").as_dict() == {
        "precision": "float32",
        "precision_reason": "set to fp32 by the profile",
    }
    monkeypatch.setenv("FKD_PRECISION", "bf16")
    assert precision.choose("fp32").bf16  # the environment wins over the profile
    monkeypatch.setenv("FKD_PRECISION", "half")
    with pytest.raises(ValueError, match="bf16, fp32 or auto"):
        precision.choose("auto")


def test_the_probe_is_float32s_time_over_bfloat16s_each_at_its_fastest(monkeypatch):
    # On a fake clock a float32 step takes 6 s, a bfloat16 step 2 s, except one slow spell of
    # 50 s on bfloat16's second round, which its fastest time leaves out.
    clock = {"now": 0.0}
    spells = {True: iter([2.0, 2.0, 50.0, 2.0]), False: iter([6.0] * 4)}

    def fake_step(bf16, channels_last):
        def step():
            clock["now"] += next(spells[bf16])

        return step

    monkeypatch.setattr(precision, "training_step", fake_step)
    monkeypatch.setattr(precision, "time", SimpleNamespace(perf_counter=lambda: clock["now"]))
    assert precision.measured_cpu_speedup(rounds=3) == pytest.approx(3.0)


def test_loader_workers_use_only_spare_cores(monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    for cores, workers in [(2, 0), (1, 0), (6, 4), (64, 8)]:
        monkeypatch.setattr(config.os, "cpu_count", lambda c=cores: c)
        assert config.loader_workers() == workers
