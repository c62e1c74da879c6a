"""End to end on a real trained Llama (TinyStories-656K): every command line, on prompts written for it.

This tokenizer glues a word's space to the word before it ("saw▁a▁" then "dog"), so the prompts end
with their space and answers are bare words: each answer is then one whole token after its prompt.
"""

from __future__ import annotations

import json

import pytest

from cluster.cli import main as cluster_main
from compare.cli import main as compare_main
from edit.__main__ import main as edit_main
from lens.cli import main as lens_main
from memory.__main__ import main as memory_main
from tinystories import PROMPTS, STORIES, TINYSTORIES, needs_tinystories

pytestmark = needs_tinystories
MODEL = str(TINYSTORIES)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("tinystories")


@pytest.fixture(scope="module")
def clusters(work):
    out = work / "clusters"
    assert cluster_main(["find", "--model", MODEL, "--prompts", str(PROMPTS), "--method", "attribution",
                         "--percent", "5", "--rounds", "2", "--out", str(out), "--threads", "1"]) == 0
    return out


def test_every_prompt_answer_is_one_whole_token_after_its_prompt():
    from engine import Engine

    engine = Engine.load(MODEL)
    rows = [json.loads(line) for name in ("keywords", "facts", "two_hop")
            for line in (PROMPTS / f"{name}.jsonl").read_text().splitlines()]
    assert len(rows) >= 100
    for r in rows:
        answer = engine.token_id(r["answer"])
        assert engine.encode(r["prompt"] + r["answer"]) == engine.encode(r["prompt"]) + [answer], r["prompt"]


def test_lens_train_then_eval_and_decode(work, capsys):
    out = work / "lenses"
    assert lens_main(["--threads", "1", "train", "--model", MODEL, "--out", str(out), "--data", str(STORIES),
                      "--steps", "200", "--fixed", "--lr", "3e-3", "--batch-size", "4"]) == 0
    assert "saved compact lenses for layers [0, 1]" in capsys.readouterr().out
    assert lens_main(["--threads", "1", "eval", "--model", MODEL, "--lenses", str(out), "--data", str(STORIES),
                      "--max-texts", "24"]) == 0
    text = capsys.readouterr().out
    assert "compact attention lens below the logit lens (head writes) at every layer: yes" in text
    assert lens_main(["decode", "--model", MODEL, "--lenses", str(out), "--prompt", "Lily hugged her ",
                      "--target", "mom"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "target 'mom'" in lines[0] and [l[:8] for l in lines[1:]] == ["layer 0:", "layer 1:"]


def test_cluster_find_writes_one_cluster_per_topic(clusters):
    found = {p.stem: json.loads(p.read_text()) for p in clusters.glob("*.json")}
    assert set(found) == {"animal", "toy", "family", "food"}
    assert all(c["topic"] == name for name, c in found.items())


def test_cluster_sweep_writes_its_curves(clusters, work, capsys):
    out = work / "sweep"
    assert cluster_main(["sweep", "--model", MODEL, "--prompts", str(PROMPTS), "--cluster",
                         str(clusters / "animal.json"), "--modes", "noise", "--intensities", "0,2", "--samples", "2",
                         "--out", str(out), "--threads", "1"]) == 0
    assert "specificity on top-1 accuracy (target 'animal'" in capsys.readouterr().out
    assert (out / "animal-sweep.csv").is_file()


def test_memory_inject_and_sweep(work, capsys):
    assert memory_main(["inject", "--model", MODEL, "--prompt", "Lily heard a meow. It was a ", "--memory", "meow",
                        "--answer", "cat", "--layer", "0", "--scale", "5", "--threads", "1"]) == 0
    assert "P('cat') before" in capsys.readouterr().out
    out = work / "memory"
    assert memory_main(["sweep", "--model", MODEL, "--prompts", str(PROMPTS), "--split", "heldout",
                        "--scales", "1,5", "--out", str(out), "--threads", "1"]) == 0
    assert "bridge" in capsys.readouterr().out and (out / "sweep.csv").is_file()


def test_edit_apply_rewrites_the_fact(capsys):
    assert edit_main(["apply", "--model", MODEL, "--prompt", "Lily had a pet ", "--subject", "Lily", "--new", "cat",
                      "--prompts", str(PROMPTS), "--method", "rank_one", "--layer", "1", "--heldout", "0",
                      "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "'Lily had a pet ' -> 'cat'" in text and "efficacy 100%" in text


def test_compare_impaired_prints_cka_per_layer(clusters, capsys):
    assert compare_main(["impaired", "--model", MODEL, "--prompts", str(PROMPTS), "--pool", "8",
                         "--cluster", str(clusters / "animal.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [l.split(":")[0] for l in lines if l.startswith("layer ")] == ["layer 0", "layer 1"]


def test_every_command_runs_in_bfloat16_on_the_cpu(clusters, work, capsys):
    """bfloat16 on the CPU stands in for a GPU: every command runs on the real Llama, edits included."""
    bf16, out = ["--device", "cpu", "--dtype", "bfloat16"], work / "bf16"
    assert lens_main(["--threads", "1", "train", "--model", MODEL, "--out", str(out / "lenses"), "--data", str(STORIES),
                      "--steps", "20", "--fixed", "--lr", "3e-3", "--batch-size", "4", *bf16]) == 0
    assert lens_main(["decode", "--model", MODEL, "--lenses", str(out / "lenses"), "--prompt", "Lily hugged her ",
                      "--target", "mom", *bf16]) == 0
    assert cluster_main(["find", "--model", MODEL, "--prompts", str(PROMPTS), "--method", "attribution",
                         "--percent", "5", "--rounds", "1", "--out", str(out / "clusters"), "--threads", "1", *bf16]) == 0
    assert cluster_main(["sweep", "--model", MODEL, "--prompts", str(PROMPTS), "--cluster",
                         str(clusters / "animal.json"), "--modes", "noise", "--intensities", "0,2", "--samples", "2",
                         "--out", str(out / "sweep"), "--threads", "1", *bf16]) == 0
    assert "bfloat16" in (out / "sweep" / "animal-sweep.csv").read_text().splitlines()[1]
    assert memory_main(["inject", "--model", MODEL, "--prompt", "Lily heard a meow. It was a ", "--memory", "meow",
                        "--answer", "cat", "--layer", "0", "--scale", "5", "--threads", "1", *bf16]) == 0
    assert edit_main(["apply", "--model", MODEL, "--prompt", "Lily had a pet ", "--subject", "Lily", "--new", "cat",
                      "--prompts", str(PROMPTS), "--method", "rank_one", "--layer", "1", "--heldout", "0",
                      "--threads", "1", *bf16]) == 0
    assert compare_main(["impaired", "--model", MODEL, "--prompts", str(PROMPTS), "--pool", "8",
                         "--cluster", str(clusters / "animal.json"), *bf16]) == 0
    text = capsys.readouterr().out
    assert "P('cat') before" in text and "efficacy 100%" in text
