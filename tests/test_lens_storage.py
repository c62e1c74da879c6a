"""Lens folders: round trip, lazy per-layer loading, and refusal for another model or a corrupt file."""

from __future__ import annotations

import json

import pytest
import torch

from engine import Engine
from lens import LensFormatError, LensMismatch, load_lenses, read_header
from lens.header import HEADER_FILE, LensHeader, layer_file
from lens.lenses import Unembed, new_layer_lens
from lens.storage import save_lenses
from tiny_models import save_tiny_model


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def _save(eng: Engine, folder, kind: str = "compact", layers=(0, 2)) -> dict:
    torch.manual_seed(0)
    unembed = Unembed.from_adapter(eng.adapter)
    states = {}
    for layer in layers:
        lens = new_layer_lens(kind, eng.spec.n_heads, unembed)
        with torch.no_grad():
            for p in lens.parameters():
                p.add_(0.01 * torch.randn_like(p))
        states[layer] = lens.state_dict()
    s = eng.spec
    header = LensHeader(kind=kind, model_name=s.name, fingerprint=s.fingerprint, n_layers=s.n_layers,
                        n_heads=s.n_heads, d_model=s.d_model, d_vocab=s.d_vocab, layers=tuple(layers),
                        final_kl=((0.1,) * s.n_heads,) * len(layers))
    save_lenses(folder, header, states)
    return states


@pytest.mark.parametrize("kind", ["compact", "full"])
def test_round_trip_keeps_weights_and_header(eng, tmp_path, kind):
    states = _save(eng, tmp_path, kind)
    lenses = load_lenses(tmp_path, eng)
    assert lenses.kind == kind and lenses.layers == (0, 2)
    assert read_header(tmp_path) == lenses.header
    for layer, state in states.items():
        for name, tensor in lenses.layer(layer).state_dict().items():
            assert torch.equal(tensor, state[name])


def test_header_records_model_and_convention(eng, tmp_path):
    _save(eng, tmp_path)
    body = json.loads((tmp_path / HEADER_FILE).read_text())
    assert body["fingerprint"] == eng.spec.fingerprint
    assert body["convention"] == "raw transformers weights"
    assert body["kind"] == "compact" and len(body["final_kl"][0]) == eng.spec.n_heads


def test_layers_are_read_only_when_first_used(eng, tmp_path):
    _save(eng, tmp_path)
    lenses = load_lenses(tmp_path, eng)
    assert lenses._loaded == {}
    lenses.layer(2)
    assert set(lenses._loaded) == {2}


def test_lenses_for_another_model_are_refused_with_its_name(eng, tmp_path):
    _save(eng, tmp_path / "lenses")
    other = Engine.load(save_tiny_model("gpt2", tmp_path / "other", seed=1))
    with pytest.raises(LensMismatch, match="made for model"):
        load_lenses(tmp_path / "lenses", other)


def test_a_layer_outside_the_set_is_out_of_range(eng, tmp_path):
    _save(eng, tmp_path)
    with pytest.raises(IndexError, match="covers layers 0, 2"):
        load_lenses(tmp_path, eng).layer(1)


def test_missing_or_corrupt_files_give_format_errors(eng, tmp_path):
    with pytest.raises(LensFormatError, match="holds no lenses"):
        load_lenses(tmp_path, eng)
    _save(eng, tmp_path)
    (tmp_path / layer_file(2)).write_bytes(b"not safetensors")
    with pytest.raises(LensFormatError, match="not a readable safetensors"):
        load_lenses(tmp_path, eng).layer(2)
    (tmp_path / HEADER_FILE).write_text("{broken")
    with pytest.raises(LensFormatError, match="not valid JSON"):
        load_lenses(tmp_path, eng)
