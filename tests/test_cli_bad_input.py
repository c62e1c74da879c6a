"""Every command line refuses bad flag values with exit status 2 and one line naming the flag and the fix."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from cluster import find_topic_clusters, save_cluster
from cluster.cli import main as cluster_main
from compare.cli import main as compare_main
from edit.__main__ import main as edit_main
from engine import Engine
from lens.cli import main as lens_main
from memory.__main__ import main as memory_main
from test_cluster_engine import tiny_prompts
from test_lens_original import Spec, _ckpt
from tiny_models import SENTENCES
from world.cli import main as world_main
from promptsets.paths import DEMO_PROMPTS
from promptsets.schema import TWO_HOP_FILE, TwoHopPrompt, write_jsonl

MAINS = {"lens": lens_main, "cluster": cluster_main, "memory": memory_main, "compare": compare_main,
         "world": world_main, "edit": edit_main}
NUMBERS = ("0", "-3", "nan", "inf", "1e12")


@pytest.fixture(scope="module")
def places(tiny_model_dir, tmp_path_factory) -> dict[str, str]:
    """Good inputs (model, prompts, cluster, data) and bad ones (models, output folders)."""
    root = tmp_path_factory.mktemp("cli-inputs")
    write_jsonl(root / "prompts" / "keywords.jsonl", tiny_prompts())
    shutil.copy(DEMO_PROMPTS / "facts.jsonl", root / "prompts" / "facts.jsonl")
    write_jsonl(root / "prompts" / TWO_HOP_FILE, [TwoHopPrompt(
        "born", "The founder of Zentrix was born in", " Marlow", " Tovaren", " Zentrix", "heldout", " Melisande")])
    cluster = find_topic_clusters(Engine.load(tiny_model_dir), tiny_prompts(), 5, topics=["athlete"])["athlete"]
    save_cluster(cluster, root / "athlete.json")
    (root / "text.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    assert lens_main(["train", "--model", str(tiny_model_dir), "--data", str(root / "text.txt"), "--out",
                      str(root / "lenses"), "--steps", "1", "--batch-size", "8"]) == 0
    _ckpt(root / "attnlens-layer-0-epoch=0.ckpt", Spec(n_layers=3, n_heads=4, d_model=32, d_vocab=300))
    truncated = shutil.copytree(tiny_model_dir, root / "truncated")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    (root / "bert").mkdir()
    (root / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}), encoding="utf-8")
    (root / "a-file").write_text("not a folder", encoding="utf-8")
    (root / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    unwritable = "/proc/sys/lenslab-out" if os.geteuid() == 0 else str(root / "locked" / "out")
    if os.geteuid() != 0:
        (root / "locked").mkdir(mode=0o500)
    return {"M": str(tiny_model_dir), "P": str(root / "prompts"), "C": str(root / "athlete.json"),
            "D": str(root / "text.txt"), "L": str(root / "lenses"), "K": str(root / "attnlens-layer-0-epoch=0.ckpt"),
            "TRUNCATED": str(truncated), "BERT": str(root / "bert"), "FILE": str(root / "a-file"),
            "UNDER_FILE": str(root / "a-file" / "sub"), "MISSING": str(root / "no-such-model"),
            "UNWRITABLE": unwritable, "OUT": str(root / "out"), "NOT_UTF8": str(root / "latin1.txt"),
            "FOLDER": str(root / "prompts")}


BASE = {
    "lens train": "train --model M --data D --out OUT --steps 1 --batch-size 8",
    "lens eval": "eval --model M --lenses L --data D",
    "lens import": "import --model M --out OUT K",
    "lens decode": "decode --model M --lenses L --prompt hello",
    "cluster find": "find --model M --prompts P --out OUT",
    "cluster find kmeans": "find --model M --prompts P --out OUT --method kmeans",
    "cluster describe": "describe --model M --prompts P --cluster C",
    "cluster sweep": "sweep --model M --prompts P --cluster C --out OUT --modes scale --intensities 0,1",
    "memory sweep": "sweep --model M --prompts P --out OUT --layers 0 --scales 1",
    "memory inject": "inject --model M --prompt hello --memory x --layer 0",
    "memory check": "check --model M --prompts P",
    "compare impaired": "impaired --model M --cluster C --prompt hello",
    "compare models": "models --model M --other M --prompt hello",
    "world build": "build --out OUT --tiny --steps 1",
    "world check": "check --model M",
    "edit apply": "apply --model M --prompt hello --subject hello --new x --heldout 0",
    "edit sweep": "sweep --model M --prompts P --out OUT --n 1 --heldout 0",
}
MODEL_FLAGS = [(cmd, "--model", bad) for cmd in BASE if cmd not in ("world build", "cluster find kmeans")
               for bad in ("TRUNCATED", "BERT", "FILE", "MISSING")] + [
    ("compare models", "--other", bad) for bad in ("TRUNCATED", "BERT", "FILE", "MISSING")]
OUT_FLAGS = [(cmd, "--out", bad) for cmd in ("lens train", "lens import", "cluster find", "cluster sweep",
                                             "memory sweep", "world build", "edit sweep")
             for bad in ("FILE", "UNDER_FILE", "UNWRITABLE")]
NUMBER_FLAGS = [(cmd, flag, bad) for cmd, flags in {
    "lens train": ("--steps", "--batch-size", "--lr", "--rank", "--checkpoint-every", "--seed", "--threads"),
    "lens eval": ("--max-texts", "--batch-size"),
    "lens decode": ("--pos",),
    "cluster find": ("--percent", "--k", "--seed", "--threads", "--rounds"),
    "cluster describe": ("--top", "--units"),
    "cluster sweep": ("--samples", "--chunk", "--ray-workers", "--ray-cpus"),
    "memory sweep": ("--ray-workers", "--chunk"),
    "memory inject": ("--layer", "--scale", "--threads"),
    "compare impaired": ("--intensity", "--pool", "--seed"),
    "world build": ("--steps", "--seed"),
    "edit apply": ("--layer", "--rank", "--alpha", "--steps", "--target-p", "--heldout", "--samples", "--threads"),
    "edit sweep": ("--n", "--seed", "--chunk", "--ray-workers", "--ray-cpus"),
}.items() for flag in flags for bad in NUMBERS
    # Zero is a good value of these flags; -3 a good --pos (from the end) and a good --intensity.
    if not (bad == "0" and flag in ("--checkpoint-every", "--seed", "--threads", "--layer", "--scale", "--pos",
                                    "--intensity", "--steps", "--alpha", "--heldout"))
    and not (bad == "-3" and flag in ("--pos", "--intensity", "--scale"))]
RANGE_FLAGS = [(cmd, flag, bad) for cmd, flag, bads in [
    ("lens train", "--layers", ("0,x", ",", "1.5", "-1")),
    ("cluster find", "--objective", ("gain", "")),
    ("cluster find", "--rank", ("top", "")),
    ("cluster sweep", "--intensities", ("0:1e12:1e-9", "nan", "0:inf:1", "1:0:1", "0:1:0", "0:1:-1", "a,b", "1e400")),
    ("cluster sweep", "--seeds", ("-1", "x", "1e99", "99999999999")),
    ("memory sweep", "--scales", ("1:1e12:1e-3", "nan", "1:inf", "1:2:0", "x")),
    ("memory sweep", "--layers", ("0:1e9", "x", "0:nan")),
    ("memory sweep", "--positions", ("x", "0:1e9")),
    ("memory check", "--scales", ("nan",)),
    ("edit apply", "--intensities", ("0:1e12:1e-9", "nan", "0:inf:1", "x")),
    ("lens train", "--data", ("NOT_UTF8", "FOLDER", "MISSING")),
    ("lens eval", "--data", ("NOT_UTF8", "FOLDER")),
    ("cluster sweep", "--target", ("bogus",)),
    ("cluster sweep", "--modes", ("bogus", ",")),
    ("memory sweep", "--memories", ("bogus",)),
    ("cluster sweep", "--cluster", ("MISSING", "FOLDER")),
    ("edit sweep", "--clusters", ("MISSING", "FILE", "P")),
    ("memory sweep", "--layers", ("3:0",)),
    ("cluster find", "--out", ("/proc/lenslab-x",)),
] for bad in bads] + [(cmd, "--device", bad) for cmd in ("lens eval", "cluster sweep", "memory inject",
                                                          "compare impaired") for bad in ("tpu", "cuda:99")]
# Values only the loaded model can refuse (it has 3 layers, 32 wide, 4 x 128 MLP units).
MODEL_SIZED = [
    ("lens train", "--layers", "7", "layer"), ("lens train", "--rank", "999", "--rank"),
    ("cluster find kmeans", "--k", "5000", "k must be from 2 to"), ("memory inject", "--layer", "9", "layer 9"),
    ("memory sweep", "--layers", "0:9", "layer"), ("lens decode", "--pos", "999", "position"),
    ("edit apply", "--rank", "4096", "--rank 4096"), ("edit sweep", "--rank", "33", "from 1 to 32"),
    ("cluster find", "--percent", "1e-9", "selects no unit"),
]


def _argv(cmd: str, places: dict[str, str], flag: str, value: str) -> list[str]:
    words = BASE[cmd].split()
    argv = [places.get(w, w) for w in words]
    if flag in argv:
        argv[argv.index(flag) + 1] = places.get(value, value)
    else:
        argv += [flag, places.get(value, value)]
    return argv


def _check(cmd: str, argv: list[str], words: tuple[str, ...], capsys) -> None:
    code = MAINS[cmd.split()[0]](argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 2, (argv, err[-500:])
    assert "Traceback" not in err
    assert len(errors) == 1 and errors[0] == lines[-1], err[-800:]
    assert len(errors[0]) <= 320, errors[0]
    for word in words:
        assert word in errors[0], (argv, errors[0])


@pytest.mark.parametrize("cmd, flag, bad", MODEL_FLAGS + OUT_FLAGS + NUMBER_FLAGS + RANGE_FLAGS)
def test_a_bad_flag_value_is_one_line_naming_the_flag(places, capsys, cmd, flag, bad):
    _check(cmd, _argv(cmd, places, flag, bad), (flag,), capsys)


@pytest.mark.parametrize("cmd, flag, bad, says", MODEL_SIZED)
def test_a_value_the_model_lacks_is_one_line_saying_what_it_has(places, capsys, cmd, flag, bad, says):
    _check(cmd, _argv(cmd, places, flag, bad), (says,), capsys)


@pytest.mark.parametrize("percent", [0, -1, float("nan"), float("inf"), 101])
def test_a_bad_percent_is_refused_before_any_activation_is_read(tiny_model_dir, percent):
    from cluster import ClusterError

    calls = []
    with pytest.raises(ClusterError, match="percent"):
        find_topic_clusters(Engine.load(tiny_model_dir), tiny_prompts(), percent, progress=lambda d, t: calls.append(d))
    assert calls == []


@pytest.mark.parametrize("k", [1, 10 ** 6])
def test_a_bad_k_is_refused_before_any_activation_is_read(tiny_model_dir, k):
    from cluster import ClusterError
    from cluster.find import find_profile_clusters

    calls = []
    with pytest.raises(ClusterError, match="k must be from 2 to"):
        find_profile_clusters(Engine.load(tiny_model_dir), tiny_prompts(), k, progress=lambda d, t: calls.append(d))
    assert calls == []


@pytest.mark.parametrize("cmd", ["cluster find", "cluster sweep", "memory sweep", "edit sweep", "lens train"])
def test_an_unwritable_out_is_refused_before_the_model_loads(places, capsys, cmd):
    _check(cmd, _argv(cmd, dict(places, OUT=places["UNWRITABLE"]), "--model", "MISSING"), ("--out",), capsys)
    # The same command with a good --out fails on the model instead.
    _check(cmd, _argv(cmd, places, "--model", "MISSING"), ("--model",), capsys)


@pytest.mark.parametrize("text, kind, values", [
    ("1:15:4", float, (1.0, 5.0, 9.0, 13.0)), ("0:3:2", int, (0, 2)), ("1:15", float, tuple(map(float, range(1, 16)))),
    ("0:2:0.1", float, tuple(round(0.1 * i, 9) for i in range(21))), ("0,-1", int, (0, -1)), ("2:2:1", int, (2,)),
])
def test_every_range_flag_reads_stop_included_the_same_way(text, kind, values):
    from cli.args import read_range
    from memory.__main__ import parse_range

    assert read_range(text, kind) == values == parse_range(text, kind)
    if kind is float and text.count(":") == 2:
        from cluster.sweep import parse_intensities

        assert parse_intensities(text) == values


@pytest.mark.parametrize("flag, text, values", [("--scales", "1:15:4", "1,5,9,13"), ("--layers", "0:3:2", "0,2")])
def test_memory_sweep_ranges_run_the_values_they_name(places, tmp_path, flag, text, values):
    from memory.sweep import COLUMNS, CSV_NAME
    from sweeps import read_rows

    argv = _argv("memory sweep", dict(places, OUT=str(tmp_path / "out")), flag, text)
    assert memory_main(argv) == 0
    column = "scale" if flag == "--scales" else "layer"
    got = sorted({float(r[column]) for r in read_rows(tmp_path / "out" / CSV_NAME, COLUMNS).rows})
    assert got == [float(v) for v in values.split(",")]
