"""Lean loading: weights go straight into the requested dtype, the fingerprint is the same in every
precision, and a model split over the CPU and disk (device_map) reads exactly as on one device."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import Engine, Impair, Inject
from engine.loading import auto_device_map
from engine.spec import fingerprint
from lens.decode import load_lenses
from promptsets.paths import DEMO_DIR
from tiny_models import save_tiny_model

ROOT = Path(__file__).resolve().parent.parent
PROMPT = [3, 17, 42, 7, 99, 5]
SHIPPED_FINGERPRINT = "12a0d3259c1f62cf"  # in the headers of assets/demo's lenses and clusters


@pytest.fixture(scope="module")
def bf16_dir(tmp_path_factory) -> Path:
    """A tiny Llama saved in bfloat16 safetensors, as most Hub models are."""
    folder = save_tiny_model("llama", tmp_path_factory.mktemp("tiny-llama-bf16"))
    model = Engine.load(folder).model.to(torch.bfloat16)
    model.save_pretrained(folder)
    return folder


def test_weights_are_read_straight_into_the_requested_dtype(bf16_dir, monkeypatch):
    from transformers import AutoModelForCausalLM

    calls = []
    real = AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):
        calls.append(kwargs.get("dtype"))
        return real(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", spy)
    engine = Engine.load(bf16_dir, dtype="bfloat16")
    assert calls == [torch.bfloat16], "the weights were loaded in another dtype first"
    assert {p.dtype for p in engine.model.parameters()} == {torch.bfloat16}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_the_fingerprint_is_the_same_in_every_precision(bf16_dir, tiny_model_dir, dtype):
    for folder in (bf16_dir, tiny_model_dir):
        full = Engine.load(folder)
        assert Engine.load(folder, dtype=dtype).spec.fingerprint == full.spec.fingerprint
        # ... and is the formula every lens header holds: config + float32 unembedding.
        assert full.spec.fingerprint == fingerprint(full.model.config, full.W_U)


def test_the_shipped_lenses_fit_the_demo_loaded_in_bfloat16():
    engine = Engine.load(DEMO_DIR, dtype="bfloat16")
    assert engine.spec.fingerprint == SHIPPED_FINGERPRINT
    assert load_lenses(DEMO_DIR / "lenses", engine).layers == (0, 1, 2, 3)


def _split_map(engine: Engine, prefix: str) -> dict[str, str]:
    """Every module of the model on the CPU except block 1 and the last, offloaded to disk."""
    last = engine.spec.n_layers - 1
    names = {prefix + "." + str(i): ("disk" if i in (1, last) else "cpu") for i in range(engine.spec.n_layers)}
    top = {n for n, _ in engine.model.named_children()}
    base = prefix.split(".")[0]
    rest = {f"{base}.{n}": "cpu" for n, _ in getattr(engine.model, base).named_children()
            if f"{base}.{n}" != prefix}
    return names | rest | {n: "cpu" for n in top if n != base}


def _readouts(engine: Engine) -> dict[str, torch.Tensor]:
    """Every readout a page or sweep uses, on one prompt."""
    n, last = engine.spec.d_model, engine.spec.n_layers - 1
    out = {}
    trace = engine.trace(PROMPT)
    for field in ("logits", "resid", "attn", "z", "mlp_hidden", "mlp"):
        out[field] = getattr(trace, field)
    out["patterns"] = torch.stack([torch.as_tensor(engine.pattern(PROMPT, layer))
                                   for layer in range(engine.spec.n_layers)])
    out["W_O"] = torch.stack(trace.W_O)
    runs = {"noise": [Impair(layer=last, neurons=(1, 5, 9), mode="noise", intensity=2.0, seed=1)],
            "zero-last": [Impair(layer=1, neurons=(0, 2), mode="zero", positions="last")],
            "scale-mlp-out": [Impair(layer=1, neurons=(4,), mode="scale", intensity=0.0, site="mlp_out")],
            "inject": [Inject(layer=last, vector=tuple(float(i % 7) / 7 for i in range(n)), scale=3.0)]}
    for name, run in runs.items():
        out[name] = engine.run(PROMPT, run, samples=3).logits
        out[name + "-full"] = engine.run_full(PROMPT, run, samples=3).logits
    out["batch"] = torch.stack([r.logits for r in engine.run_batch(PROMPT, list(runs.values()))])
    captured = engine.capture([PROMPT, PROMPT[:3]])
    out["capture"] = torch.stack([captured.at("head_writes", layer) for layer in range(engine.spec.n_layers)])
    out["capture-log-probs"] = captured.log_probs
    out["attribute"] = engine.attribute([PROMPT], [5])
    out["W_out"], out["W_U"], out["W_E"] = engine.W_out(last), engine.W_U, engine.W_E
    out["trace-again"] = engine.trace(PROMPT[:4]).logits
    return out


@pytest.mark.parametrize("which", ["demo", "llama"])
def test_a_model_split_over_cpu_and_disk_reads_exactly_as_on_one_device(which, bf16_dir, tmp_path):
    folder = DEMO_DIR if which == "demo" else bf16_dir
    one = Engine.load(folder)
    prefix = "transformer.h" if which == "demo" else "model.layers"
    split = Engine.load(folder, device_map=_split_map(one, prefix), offload_folder=tmp_path)
    offloaded = {n for n, p in split.model.named_parameters() if p.device.type == "meta"}
    last = one.spec.n_layers - 1
    assert offloaded and all(f"{prefix}.1." in n or f"{prefix}.{last}." in n for n in offloaded), "nothing on disk"
    assert split.spec.fingerprint == one.spec.fingerprint
    want, got = _readouts(one), _readouts(split)
    for key in want:
        assert torch.equal(want[key], got[key]), f"{key} differs when the model is split over CPU and disk"


def test_device_map_auto_offloads_blocks_but_keeps_the_parts_read_directly(tmp_path):
    engine = Engine.load(DEMO_DIR)
    mapping = auto_device_map(engine.model.config, torch.float32, max_memory={"cpu": "3MB"})
    assert "disk" in mapping.values()
    for part in ("transformer.wte", "transformer.wpe", "transformer.ln_f", "lm_head"):
        assert mapping[part] == "cpu", mapping
    split = Engine.load(DEMO_DIR, device_map="auto", max_memory={"cpu": "3MB"}, offload_folder=tmp_path)
    assert any(p.device.type == "meta" for p in split.model.parameters())
    want, got = _readouts(engine), _readouts(split)
    assert [k for k in want if not torch.equal(want[k], got[k])] == []


def test_the_cli_device_map_flag_gives_the_same_answer():
    command = [sys.executable, "-m", "memory", "inject", "--model", str(DEMO_DIR), "--prompt",
               "The founder of Pothasix was born in", "--memory", " Loteix", "--layer", "1", "--scale", "5",
               "--device", "cpu", "--offline"]
    env = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    plain = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    mapped = subprocess.run(command + ["--device-map", "auto"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert plain.returncode == mapped.returncode == 0, mapped.stderr[-2000:]
    assert plain.stdout == mapped.stdout and plain.stdout.strip()
