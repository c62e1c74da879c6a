"""A refused run leaves its --out folder exactly as it found it, and a resume with another identity
(prompts, samples, precision, ...) is refused with one line saying what differs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cluster import find_topic_clusters, save_cluster
from cluster.cli import main as cluster_main
from edit.__main__ import main as edit_main
from engine import Engine
from memory.__main__ import main as memory_main
from promptsets.schema import TWO_HOP_FILE, TwoHopPrompt, write_jsonl
from test_cluster_engine import tiny_prompts

MAINS = {"cluster": cluster_main, "memory": memory_main, "edit": edit_main}
TWO_HOP = TwoHopPrompt("born", "The founder of Zentrix was born in", " Marlow", " Tovaren", " Zentrix", "heldout",
                       " Melisande")


@pytest.fixture(scope="module")
def inputs(tiny_model_dir, tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("refusal-inputs")
    write_jsonl(root / "prompts" / "keywords.jsonl", tiny_prompts())
    write_jsonl(root / "prompts" / TWO_HOP_FILE, [TWO_HOP])
    write_jsonl(root / "more" / "keywords.jsonl", tiny_prompts()[:-1])
    write_jsonl(root / "more" / TWO_HOP_FILE, [TWO_HOP, TwoHopPrompt(
        "born", "The founder of Quorin was born in", " Marlow", " Tovaren", " Quorin", "heldout", " Melisande")])
    cluster = find_topic_clusters(Engine.load(tiny_model_dir), tiny_prompts(), 5, topics=["athlete"])["athlete"]
    save_cluster(cluster, root / "athlete.json")
    return {"M": str(tiny_model_dir), "P": str(root / "prompts"), "P2": str(root / "more"),
            "C": str(root / "athlete.json")}


CLUSTER = "sweep --model M --prompts P --cluster C --modes scale,noise --intensities 0,1 --threads 1"
MEMORY = "sweep --model M --prompts P --layers 0:2 --scales 1:2 --threads 1"


def _argv(line: str, inputs: dict[str, str], out: Path) -> list[str]:
    return [inputs.get(w, w) for w in line.split()] + ["--out", str(out)]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (hidden ones too) with its bytes (None for a folder)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")}


def _refused(main, argv: list[str], capsys, *words: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err, err[-800:]
    assert lines[-1].startswith("error: ") and sum(line.startswith("error: ") for line in lines) == 1, err[-800:]
    for word in words:
        assert word in lines[-1], lines[-1]
    return lines[-1]


@pytest.mark.parametrize("which, line, changed", [
    ("cluster", CLUSTER.replace("--prompts P", "--prompts P2"), "prompts"),
    ("cluster", CLUSTER + " --samples 2", "spec.samples"),
    ("cluster", CLUSTER + " --dtype bfloat16", "dtype"),
    ("cluster", CLUSTER + " --chunk 3", "spec.chunk"),
    ("memory", MEMORY.replace("--prompts P", "--prompts P2"), "cases_sha256"),
    ("memory", MEMORY + " --dtype bfloat16", "dtype"),
    ("memory", MEMORY + " --positions last", "spec.positions"),
    ("memory", MEMORY + " --chunk 5", "spec.chunk"),
])
def test_a_resume_with_another_identity_is_refused_and_leaves_the_folder_as_it_was(inputs, tmp_path, capsys,
                                                                                   which, line, changed):
    main, first = MAINS[which], CLUSTER if which == "cluster" else MEMORY
    out = tmp_path / "out"
    assert main(_argv(first, inputs, out)) == 0
    capsys.readouterr()
    before = snapshot(out)
    _refused(main, _argv(line, inputs, out), capsys, "holds a sweep with different", changed, "another --out")
    assert snapshot(out) == before


@pytest.mark.parametrize("which, line", [
    ("memory", MEMORY + " --split taught"),  # the prompt set has no taught prompt
    ("memory", MEMORY.replace("--layers 0:2", "--layers 0:9")),
    ("cluster", CLUSTER + " --target bogus"),
    ("cluster", CLUSTER.replace("--modes scale,noise", "--modes bogus")),
    ("edit", "sweep --model M --prompts P --n 1 --heldout 0 --rank 999"),
])
def test_a_refused_run_leaves_nothing_and_the_corrected_command_runs(inputs, tmp_path, capsys, which, line):
    out = tmp_path / "new" / "out"
    _refused(MAINS[which], _argv(line, inputs, out), capsys)
    assert not (tmp_path / "new").exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine", encoding="utf-8")
    _refused(MAINS[which], _argv(line, inputs, existing), capsys)
    assert snapshot(existing) == {"notes.txt": b"mine"}
    if which == "memory":  # the corrected command runs into the same folders (no identity file was left)
        assert memory_main(_argv(MEMORY, inputs, out)) == 0
        assert memory_main(_argv(MEMORY, inputs, existing)) == 0


def test_an_output_written_without_its_identity_file_is_not_resumed(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    assert memory_main(_argv(MEMORY, inputs, out)) == 0
    (out / "sweep.json").unlink()
    before = snapshot(out)
    _refused(memory_main, _argv(MEMORY, inputs, out), capsys, "without its identity file", "another --out")
    assert snapshot(out) == before


def test_every_row_says_its_precision(inputs, tmp_path):
    from cluster.sweep import HEADER, read_rows
    from memory.sweep import COLUMNS, CSV_NAME
    from sweeps import read_rows as read_csv

    assert cluster_main(_argv(CLUSTER + " --dtype bfloat16", inputs, tmp_path / "c")) == 0
    assert {r["dtype"] for r in read_rows(tmp_path / "c" / "athlete-sweep.csv")} == {"bfloat16"} and "dtype" in HEADER
    assert memory_main(_argv(MEMORY, inputs, tmp_path / "m")) == 0
    assert {r["dtype"] for r in read_csv(tmp_path / "m" / CSV_NAME, COLUMNS).rows} == {"float32"}
    identity = json.loads((tmp_path / "m" / "sweep.json").read_text(encoding="utf-8"))
    assert (identity["dtype"], identity["device"], identity["threads"], identity["spec"]["chunk"]) == ("float32", "cpu", 1, 64)


@pytest.mark.parametrize("which", ["cluster", "memory"])
def test_the_engines_multi_token_refusal_is_one_line_and_leaves_nothing(inputs, tmp_path, capsys, monkeypatch, which):
    from engine import Engine as LoadedEngine
    from engine.errors import MultiTokenError

    def several(self, text, *args, **kwargs):
        raise MultiTokenError(f"{text!r} is several tokens; give one token")

    monkeypatch.setattr(LoadedEngine, "token_id", several)
    out = tmp_path / "out"
    _refused(MAINS[which], _argv(CLUSTER if which == "cluster" else MEMORY, inputs, out), capsys, "several tokens")
    assert not out.exists()
