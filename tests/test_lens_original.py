"""Import of the original Attention Lens checkpoints: only lens weights kept, pickled code refused."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from lens import LensImportError, LensMismatch, import_original, read_header
from lens.header import CONVENTION_TL
from lens.original import read_original


@dataclass(frozen=True)
class Spec:
    name: str = "gpt2-like"
    fingerprint: str = "0123456789abcdef"
    n_layers: int = 3
    n_heads: int = 2
    d_model: int = 8
    d_vocab: int = 11


class Sneaky:
    """A custom class: unpickling it would need code from this module."""

    def __init__(self) -> None:
        self.payload = "would run on load"


def _ckpt(path, spec: Spec = Spec(), prefix: str = "_forward_module.attn_lens.lenses.0.", extra=None):
    """A Lightning-like checkpoint: lens weights among model weights, optimiser state and metadata."""
    torch.manual_seed(0)
    state = {f"{prefix}linears.{h}.weight": torch.randn(spec.d_vocab, spec.d_model) for h in range(spec.n_heads)}
    state |= {f"{prefix}linears.{h}.bias": torch.randn(spec.d_vocab) for h in range(spec.n_heads)}
    state["_forward_module.model.transformer.h.0.attn.c_attn.weight"] = torch.randn(spec.d_model, 3 * spec.d_model)
    body = {"epoch": 3, "global_step": 1200, "pytorch-lightning_version": "2.0.0", "state_dict": state,
            "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": [{"lr": 1e-3}]}],
            "lr_schedulers": []}
    if extra is not None:
        body["hyper_parameters"] = extra
    torch.save(body, path)
    return state


def test_round_trip_keeps_only_lens_weights(tmp_path):
    path = tmp_path / "attnlens-layer-2-epoch=03-step=1200-train_loss=4.21.ckpt"
    state = _ckpt(path)
    header = import_original([path], tmp_path / "out", Spec())
    assert header.kind == "full" and header.layers == (2,) and header.convention == CONVENTION_TL
    assert read_header(tmp_path / "out") == header
    from safetensors import safe_open
    with safe_open(str(tmp_path / "out" / "layer_02.safetensors"), framework="pt") as f:
        assert set(f.keys()) == {"weight", "bias"}
        weight, bias = f.get_tensor("weight"), f.get_tensor("bias")
    prefix = "_forward_module.attn_lens.lenses.0."
    for h in range(2):
        assert torch.equal(weight[h], state[f"{prefix}linears.{h}.weight"])
        assert torch.equal(bias[h], state[f"{prefix}linears.{h}.bias"])


@pytest.mark.parametrize("prefix", ["attn_lens.linears.", "attn_lens.lenses.0.", "_forward_module.attn_lens."])
def test_key_prefixes_are_stripped(tmp_path, prefix):
    path = tmp_path / "attnlens-layer-0.ckpt"
    _ckpt(path, prefix=prefix.removesuffix("linears."))
    assert read_original(path)["weight"].shape == (2, 11, 8)


def test_a_file_needing_pickle_code_is_refused(tmp_path):
    path = tmp_path / "attnlens-layer-1-epoch=0.ckpt"
    _ckpt(path, extra=Sneaky())
    with pytest.raises(LensImportError, match="refusing to load"):
        import_original([path], tmp_path / "out", Spec())
    assert not (tmp_path / "out").exists()


def test_shape_or_layer_of_another_model_is_a_mismatch(tmp_path):
    path = tmp_path / "attnlens-layer-1.ckpt"
    _ckpt(path)
    with pytest.raises(LensMismatch, match="n_heads, d_vocab, d_model"):
        import_original([path], tmp_path / "out", Spec(d_vocab=12))
    far = tmp_path / "attnlens-layer-9.ckpt"
    _ckpt(far)
    with pytest.raises(LensMismatch, match="layers 0-2"):
        import_original([far], tmp_path / "out", Spec())


def test_unnamed_or_non_lens_files_are_import_errors(tmp_path):
    unnamed = tmp_path / "lens.ckpt"
    _ckpt(unnamed)
    with pytest.raises(LensImportError, match="cannot tell the layer"):
        import_original([unnamed], tmp_path / "out", Spec())
    junk = tmp_path / "attnlens-layer-0.ckpt"
    torch.save({"state_dict": {"model.wte.weight": torch.zeros(2)}}, junk)
    with pytest.raises(LensImportError, match="no 'attn_lens"):
        read_original(junk)
    (tmp_path / "attnlens-layer-1.ckpt").write_bytes(b"garbage")
    with pytest.raises(LensImportError, match="not a readable"):
        read_original(tmp_path / "attnlens-layer-1.ckpt")
