"""Devices and precision: the engine on every device gives CPU float32 results equal to the CPU's,
and bfloat16 is opt-in, close to float32, and keeps the fingerprint lenses and clusters check."""

from __future__ import annotations

import pytest
import torch

from engine import Engine, Impair, Inject, ModelLoadError
from engine.loading import precision_note, resolve_device, resolve_dtype
from test_app_helpers import app_model, open_app  # noqa: F401

PROMPT = "Zentrix is a shipping company based in Quarry."
RUNS = {
    "noise": [Impair(layer=1, neurons=(0, 3, 7), mode="noise", intensity=2.0, seed=3)],
    "scale_mlp_out": [Impair(layer=0, neurons=(1, 2), mode="scale", intensity=3.0, site="mlp_out")],
    "mean": [Impair(layer=2, neurons=(4, 5), mode="mean", mean=(0.5, -0.5))],
    "inject_last": [Inject(layer=1, vector=tuple([0.3] * 32), scale=2.0, positions="last")],
}


@pytest.fixture(scope="module")
def cpu_eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


@pytest.fixture(scope="module")
def dev_eng(tiny_model_dir, device) -> Engine:
    return Engine.load(tiny_model_dir, device=device)


def test_auto_means_a_gpu_when_there_is_one():
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


def test_unknown_or_absent_devices_and_dtypes_say_what_to_pass():
    with pytest.raises(ModelLoadError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    absent = f"cuda:{torch.cuda.device_count()}"
    with pytest.raises(ModelLoadError, match="not on this machine"):
        resolve_device(absent)
    with pytest.raises(ModelLoadError, match="float32, bfloat16, float16"):
        resolve_dtype("int8")


def test_the_spec_says_where_the_model_runs(dev_eng, device):
    assert dev_eng.spec.device.startswith(device) and dev_eng.spec.dtype == "float32"
    assert next(dev_eng.model.parameters()).device.type == device


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_device_gives_the_cpu_numbers_back_on_the_cpu(cpu_eng, dev_eng, name):
    ivs = RUNS[name]
    got, ref = dev_eng.run(PROMPT, ivs, samples=3), cpu_eng.run(PROMPT, ivs, samples=3)
    for tensor in (got.logits, got.probs_mean, got.clean_logits):
        assert tensor.device.type == "cpu" and tensor.dtype == torch.float32
    torch.testing.assert_close(got.logits, ref.logits, atol=1e-4, rtol=0)
    torch.testing.assert_close(dev_eng.run_full(PROMPT, ivs, samples=3).logits, got.logits, atol=1e-4, rtol=0)


def test_traces_and_activations_come_back_on_the_cpu(cpu_eng, dev_eng):
    trace = dev_eng.trace(PROMPT)
    assert trace.resid.device.type == "cpu" and trace.keys[0].device.type == "cpu"
    torch.testing.assert_close(trace.resid, cpu_eng.trace(PROMPT).resid, atol=1e-5, rtol=0)
    acts = dev_eng.run_activations(PROMPT, RUNS["noise"], "mlp_post")
    torch.testing.assert_close(acts, cpu_eng.run_activations(PROMPT, RUNS["noise"], "mlp_post"), atol=1e-4, rtol=0)
    assert dev_eng.W_U.device.type == "cpu" and dev_eng.unembed(trace.resid[-1]).device.type == "cpu"


@pytest.fixture(scope="module")
def bf16_eng(tiny_model_dir) -> Engine:
    if not _cpu_bf16():
        pytest.fail("this CPU cannot run bfloat16 matmuls; the bfloat16 path needs one")
    return Engine.load(tiny_model_dir, dtype="bfloat16")


def _cpu_bf16() -> bool:
    try:
        torch.ones(2, 2, dtype=torch.bfloat16) @ torch.ones(2, 2, dtype=torch.bfloat16)
        return True
    except RuntimeError:
        return False


def test_bfloat16_keeps_the_float32_fingerprint(cpu_eng, bf16_eng):
    assert bf16_eng.spec.dtype == "bfloat16"
    assert next(bf16_eng.model.parameters()).dtype == torch.bfloat16
    assert bf16_eng.spec.fingerprint == cpu_eng.spec.fingerprint


@pytest.mark.parametrize("name", sorted(RUNS))
def test_bfloat16_runs_are_close_to_float32_and_come_back_as_float32(cpu_eng, bf16_eng, name):
    got, ref = bf16_eng.run(PROMPT, RUNS[name], samples=2), cpu_eng.run(PROMPT, RUNS[name], samples=2)
    assert got.logits.dtype == torch.float32
    assert (got.logits - ref.logits).abs().max() < 0.1 * ref.logits.abs().max()
    torch.testing.assert_close(bf16_eng.run_full(PROMPT, RUNS[name], samples=2).logits, got.logits,
                               atol=0.05, rtol=0)


def test_lower_precision_is_announced_and_float32_is_not():
    assert "differ from float32" in precision_note("bfloat16")
    assert precision_note("float32") == ""


def test_the_sidebar_shows_the_device(app_model, monkeypatch):
    monkeypatch.setenv("LENSLAB_DEVICE", "cpu")
    at = open_app()
    assert any("Runs on cpu, float32" in c.value for c in at.sidebar.caption)
