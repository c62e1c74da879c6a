"""Killed mid-write, then resumed or loaded: no completed work lost, no half-written file loaded."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from cluster import load_cluster
from cluster.cli import main as cluster_main
from engine import Engine
from lens import load_lenses
from lens.cli import main as lens_main
from lens.header import HEADER_FILE
from test_cluster_engine import tiny_prompts
from tiny_models import SENTENCES
from promptsets.schema import write_jsonl

ROOT = Path(__file__).resolve().parent.parent
# The child patches ``target`` (a module's save function) to write half its bytes, then die by SIGKILL
# on call number ``kill_at``; the calls before it go through.
KILLER = textwrap.dedent("""
    import os, signal, sys
    sys.path[:0] = [{root!r}, {tests!r}]
    import importlib
    module = importlib.import_module({module!r})
    real, calls = getattr(module, {name!r}), [0]
    def torn(*args, **kwargs):
        calls[0] += 1
        if calls[0] < {kill_at}:
            return real(*args, **kwargs)
        out = real(*args, **kwargs)
        path = next(a for a in list(args) + list(kwargs.values()) if isinstance(a, (str, os.PathLike)))
        path = out if isinstance(out, (str, os.PathLike)) else path
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    setattr(module, {name!r}, torn)
    from {cli}.cli import main
    main({argv!r})
""")


def _killed(cli: str, module: str, name: str, kill_at: int, argv: list[str]) -> None:
    script = KILLER.format(root=str(ROOT), tests=str(ROOT / "tests"), module=module, name=name, kill_at=kill_at,
                           cli=cli, argv=argv)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


def test_a_checkpoint_torn_by_a_kill_is_not_resumed_and_training_ends_as_if_uninterrupted(tiny_model_dir, tmp_path):
    data = tmp_path / "text.txt"
    data.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    args = ["--threads", "1", "train", "--model", str(tiny_model_dir), "--data", str(data), "--steps", "6",
            "--checkpoint-every", "2", "--batch-size", "8", "--layers", "0,2"]
    # The second checkpoint (step 4) is torn as it is written; the first (step 2) stays.
    _killed("lens", "lens.storage", "save_file", 2, args + ["--out", str(tmp_path / "cut")])
    assert not (tmp_path / "cut" / HEADER_FILE).exists()
    assert lens_main(args + ["--out", str(tmp_path / "cut")]) == 0
    assert lens_main(args + ["--out", str(tmp_path / "whole")]) == 0
    eng = Engine.load(tiny_model_dir)
    cut, whole = load_lenses(tmp_path / "cut", eng), load_lenses(tmp_path / "whole", eng)
    for layer in (0, 2):
        for name, tensor in whole.layer(layer).state_dict().items():
            assert torch.allclose(tensor, cut.layer(layer).state_dict()[name], atol=1e-6), name


def test_a_lens_layer_torn_by_a_kill_leaves_the_previous_folder_loading(tiny_model_dir, tmp_path):
    data = tmp_path / "text.txt"
    data.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    args = ["train", "--model", str(tiny_model_dir), "--data", str(data), "--steps", "1", "--batch-size", "8",
            "--out", str(tmp_path / "lenses")]
    assert lens_main(args) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "lenses").iterdir()}
    _killed("lens", "lens.storage", "save_file", 2, args + ["--overwrite", "--seed", "3"])
    assert {p.name: p.read_bytes() for p in (tmp_path / "lenses").iterdir()} == before
    load_lenses(tmp_path / "lenses", Engine.load(tiny_model_dir)).layer(2)


def test_a_cluster_file_torn_by_a_kill_is_refused_or_whole(tiny_model_dir, tmp_path):
    write_jsonl(tmp_path / "prompts" / "keywords.jsonl", tiny_prompts())
    out = tmp_path / "clusters"
    _killed("cluster", "cluster.spec", "_write_text", 1, ["find", "--model", str(tiny_model_dir), "--prompts",
                                                             str(tmp_path / "prompts"), "--percent", "5", "--out",
                                                             str(out)])
    for path in out.glob("*.json"):
        load_cluster(path)  # every file that carries a cluster name is whole
    assert cluster_main(["find", "--model", str(tiny_model_dir), "--prompts", str(tmp_path / "prompts"),
                         "--percent", "5", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("*.json")) and all(load_cluster(p) for p in out.glob("*.json"))
