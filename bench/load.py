"""How much memory loading takes: peak RSS over the weights' bytes, lean load against plain loads.

Builds a random Llama-shaped model of about 1 B parameters, saved in bfloat16 safetensors
shards in a temporary folder, then loads it on the CPU in a fresh child process per way
and prints the child's peak RSS (``resource.getrusage``) over the bfloat16 weight bytes, once
loaded and after one forward of 8 tokens (weights mapped from the files count only once read):

- ``Engine.load(folder, dtype="bfloat16")``: read straight into bfloat16 (the goal: <= 1.3x);
- plain ``AutoModelForCausalLM.from_pretrained(folder)`` (the library's defaults);
- the former LensLab way: ``from_pretrained(folder, dtype=float32)``, then ``.to(bfloat16)``.

Each child's RSS after its imports (before loading) is printed too. The model is built in a
child of its own: on Linux a child's ``ru_maxrss`` starts from its parent's peak, so the
parent that spawns the measured children must stay small.

    python bench/load.py [--layers 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from promptsets.paths import DEMO_DIR  # noqa: E402

# Llama-shaped: hidden 2048, MLP 5632, 32 heads with 4 key/value heads, 32,000-token vocabulary.
SHAPE = dict(hidden_size=2048, intermediate_size=5632, num_attention_heads=32, num_key_value_heads=4,
             vocab_size=32000, max_position_embeddings=2048, tie_word_embeddings=False)

CHILD = r'''
import resource, sys, json
sys.path.insert(0, {root!r})
import torch
torch.set_num_threads(1)
from transformers import AutoModelForCausalLM
from engine import Engine
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
way, folder = {way!r}, {folder!r}
if way == "engine":
    model = Engine.load(folder, dtype="bfloat16").model
elif way == "plain":
    model = AutoModelForCausalLM.from_pretrained(folder)
else:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(torch.bfloat16)
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with torch.no_grad():
    model(torch.arange(8).unsqueeze(0))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"before": before * 1024, "loaded": loaded * 1024, "peak": peak * 1024,
                  "dtype": str(next(model.parameters()).dtype)}}))
'''


def _tensors(layer: int, gen) -> dict:
    """One block's weights, random, bfloat16."""
    import torch

    d, m = SHAPE["hidden_size"], SHAPE["intermediate_size"]
    kv = d // SHAPE["num_attention_heads"] * SHAPE["num_key_value_heads"]
    shapes = {"self_attn.q_proj": (d, d), "self_attn.k_proj": (kv, d), "self_attn.v_proj": (kv, d),
              "self_attn.o_proj": (d, d), "mlp.gate_proj": (m, d), "mlp.up_proj": (m, d), "mlp.down_proj": (d, m)}
    out = {f"model.layers.{layer}.{name}.weight": (torch.randn(shape, generator=gen) * 0.02).to(torch.bfloat16)
           for name, shape in shapes.items()}
    for norm in ("input_layernorm", "post_attention_layernorm"):
        out[f"model.layers.{layer}.{norm}.weight"] = torch.ones(d, dtype=torch.bfloat16)
    return out


def build(folder: Path, n_layers: int) -> int:
    """Write the random model (one shard per block, plus embeddings and head) and a tokenizer; its bytes."""
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig

    LlamaConfig(num_hidden_layers=n_layers, dtype="bfloat16", **SHAPE).save_pretrained(folder)
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(DEMO_DIR / file, folder / file)
    gen, weight_map, total = torch.Generator().manual_seed(0), {}, 0
    v, d = SHAPE["vocab_size"], SHAPE["hidden_size"]
    shards = [{"model.embed_tokens.weight": (torch.randn(v, d, generator=gen) * 0.02).to(torch.bfloat16)}]
    shards += [_tensors(layer, gen) for layer in range(n_layers)]
    shards.append({"model.norm.weight": torch.ones(d, dtype=torch.bfloat16),
                   "lm_head.weight": (torch.randn(v, d, generator=gen) * 0.02).to(torch.bfloat16)})
    for index, shard in enumerate(shards):
        name = f"model-{index + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, str(folder / name), metadata={"format": "pt"})
        weight_map.update({key: name for key in shard})
        total += sum(t.numel() * t.element_size() for t in shard.values())
        shards[index] = {}
    index_file = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index_file), encoding="utf-8")
    return total


def _build_in_child(folder: Path, n_layers: int) -> int:
    """:func:`build` in its own process: a child inherits its parent's peak RSS, so this one stays small."""
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from bench.load import build; " \
           f"print(build(__import__('pathlib').Path({str(folder)!r}), {n_layers}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1])


def measure(way: str, folder: Path) -> dict:
    """Peak RSS of a fresh process that loads ``folder`` the ``way`` named."""
    code = CHILD.format(root=str(ROOT), way=way, folder=str(folder))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=20, help="blocks (20 gives about 1.0 B parameters)")
    parser.add_argument("--keep", type=Path, default=None, help="build into (or reuse) this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="lenslab-load-bench-"))
    try:
        if (folder / "model.safetensors.index.json").is_file():
            total = json.loads((folder / "model.safetensors.index.json").read_text())["metadata"]["total_size"]
        else:
            folder.mkdir(parents=True, exist_ok=True)
            total = _build_in_child(folder, args.layers)
        print(f"random Llama shape, {args.layers} blocks: {total / 2 / 1e9:.2f} B parameters, "
              f"{total / 1e9:.2f} GB in bfloat16")
        print(f"{'way':<42} {'after imports':>13} {'loaded':>8} {'+forward':>9} {'peak / weights':>15}")
        rows = [("Engine.load(dtype=bfloat16)", "engine"), ("AutoModelForCausalLM.from_pretrained", "plain"),
                ("former: float32 load, then .to(bfloat16)", "float32")]
        for label, way in rows:
            got = measure(way, folder)
            print(f"{label:<42} {got['before'] / 1e9:>10.2f} GB {got['loaded'] / 1e9:>5.2f} GB "
                  f"{got['peak'] / 1e9:>6.2f} GB {got['peak'] / total:>14.2f}x  ({got['dtype']})")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
