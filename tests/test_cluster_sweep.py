"""Sweeps to CSV (resumable) and the ``python -m cluster`` commands, on a tiny random GPT-2."""

from __future__ import annotations

import csv
import json

import pytest

from cluster import ClusterError, find_topic_clusters, make_eval_set, save_cluster
from cluster.cli import main
from cluster.sweep import SweepSpec, read_rows, row_key, run_sweep
from engine import Engine
from test_cluster_engine import TEMPLATES, tiny_prompts  # noqa: F401
from tiny_models import save_tiny_model
from promptsets.schema import write_jsonl


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


@pytest.fixture(scope="module")
def athlete(engine):
    return find_topic_clusters(engine, tiny_prompts(), 5, topics=["athlete"])["athlete"]


def keys(rows):
    return [(*row_key(r["kind"], r["mode"], r["intensity"], r["seed"]), r["topic"]) for r in rows]


def test_sweep_writes_a_row_per_topic_mode_intensity_seed_and_kind(engine, athlete, tmp_path):
    evalset = make_eval_set(engine, tiny_prompts())
    spec = SweepSpec(modes=("scale", "noise"), intensities=(0.0, 1.0), seeds=(0, 1))
    path = tmp_path / "athlete-sweep.csv"
    assert run_sweep(engine, athlete, evalset, spec, path) == 16
    rows = read_rows(path)
    assert len(rows) == 16 * 3 and len(set(keys(rows))) == len(rows)
    scale1 = [r for r in rows if r["mode"] == "scale" and r["intensity"] == "1.0" and r["kind"] == "cluster"]
    assert all(r["accuracy"] == r["clean_accuracy"] for r in scale1)


def test_sweep_resumes_skipping_points_already_written(engine, athlete, tmp_path):
    evalset = make_eval_set(engine, tiny_prompts())
    path = tmp_path / "s.csv"
    spec = SweepSpec(modes=("scale",), intensities=(0.0, 0.5), seeds=(0,))
    run_sweep(engine, athlete, evalset, spec, path)
    before = path.read_text()
    assert run_sweep(engine, athlete, evalset, spec, path) == 0
    assert path.read_text() == before
    # Another grid cuts other batches, so its numbers could differ: it is another sweep, not an extension.
    wider = SweepSpec(modes=("scale",), intensities=(0.0, 0.5, 1.0), seeds=(0,))
    with pytest.raises(ClusterError, match=r"different spec.intensities .*another --out"):
        run_sweep(engine, athlete, evalset, wider, path)
    assert path.read_text() == before


def test_interrupted_sweep_recomputes_the_cut_point_without_duplicates(engine, athlete, tmp_path):
    evalset = make_eval_set(engine, tiny_prompts())
    path = tmp_path / "s.csv"
    spec = SweepSpec(modes=("scale",), intensities=(0.0, 1.0), seeds=(0,), baseline=False)
    run_sweep(engine, athlete, evalset, spec, path)
    full = read_rows(path)
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # cut the last row in half
    assert run_sweep(engine, athlete, evalset, spec, path) == 1
    rows = read_rows(path)
    assert sorted(keys(rows)) == sorted(keys(full)) and len(set(keys(rows))) == len(rows)


def test_csv_of_another_cluster_is_not_mixed_in(engine, athlete, tmp_path):
    evalset = make_eval_set(engine, tiny_prompts())
    path = tmp_path / "s.csv"
    spec = SweepSpec(modes=("scale",), intensities=(0.0,), baseline=False)
    run_sweep(engine, athlete, evalset, spec, path)
    artist = find_topic_clusters(engine, tiny_prompts(), 5, topics=["artist"])["artist"]
    with pytest.raises(ClusterError, match="different cluster, units .*another --out"):
        run_sweep(engine, artist, evalset, spec, path)


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prompts")
    write_jsonl(folder / "keywords.jsonl", tiny_prompts())
    return folder


def test_cli_find_sweep_describe(tiny_model_dir, prompts_dir, tmp_path, capsys):
    model, out = str(tiny_model_dir), tmp_path / "clusters"
    assert main(["find", "--model", model, "--prompts", str(prompts_dir), "--percent", "5", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{t}.json" for t in TEMPLATES)
    assert json.loads((out / "athlete.json").read_text())["topic"] == "athlete"
    args = ["sweep", "--model", model, "--cluster", str(out / "athlete.json"), "--prompts", str(prompts_dir),
            "--out", str(tmp_path / "sweep"), "--modes", "scale,noise", "--intensities", "0:1:0.5", "--seeds", "0,1"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "specificity" in printed and "random" in printed
    with open(tmp_path / "sweep" / "athlete-sweep.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2 * 3 * 2 * 2 * 3
    assert "plotly" in (tmp_path / "sweep" / "athlete-sweep.html").read_text()
    assert main(args) == 0 and "0 new points" in capsys.readouterr().out
    describe = ["describe", "--model", model, "--cluster", str(out / "athlete.json"), "--prompts", str(prompts_dir)]
    assert main(describe) == 0 and "units per layer" in capsys.readouterr().out
    km = ["find", "--model", model, "--prompts", str(prompts_dir), "--method", "kmeans", "--k", "3", "--out", str(tmp_path / "km")]
    assert main(km) == 0 and len(list((tmp_path / "km").iterdir())) == 3


def test_cli_reports_user_errors_in_one_line(tiny_model_dir, prompts_dir, tmp_path, engine, capsys):
    other = save_tiny_model("gpt2", tmp_path / "other", seed=2)
    cluster = find_topic_clusters(engine, tiny_prompts(), 5, topics=["athlete"])["athlete"]
    path = save_cluster(cluster, tmp_path / "athlete.json")
    args = ["sweep", "--model", str(other), "--cluster", str(path), "--prompts", str(prompts_dir), "--out", str(tmp_path)]
    assert main(args) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "find it again" in last and "Traceback" not in err
    assert main(["sweep", "--model", str(tiny_model_dir), "--cluster", str(path), "--prompts", str(prompts_dir),
                 "--out", str(tmp_path), "--site", "mlp_out"]) == 2
    assert "mlp_post units, not mlp_out" in capsys.readouterr().err
    assert main(["sweep", "--model", str(tiny_model_dir), "--cluster", str(path), "--prompts", str(prompts_dir),
                 "--out", str(tmp_path), "--seeds", "0,x"]) == 2
    assert "whole numbers" in capsys.readouterr().err
