"""Sweeps on a local 2-worker Ray cluster: the same rows as one process, every cell exactly once,
also when a worker is killed mid-sweep or the driver is interrupted and rerun."""

from __future__ import annotations

import csv
import os
import signal
from dataclasses import replace

import pytest
import ray

from cluster import find_topic_clusters, make_eval_set
from cluster.sweep import SweepSpec, read_rows, row_key, run_sweep
from engine import Engine
from memory import run_sweep_job
from sweeps import EnginePool, LocalRunner, ModelRef, RaySettings, RaySweepError
from sweeps.ray_pool import start_ray
from test_cluster_engine import tiny_prompts
from test_cluster_sweep import prompts_dir  # noqa: F401
from test_memory_job import CASES, SPEC

SWEEP = SweepSpec(modes=("noise", "scale"), intensities=(0.0, 0.5, 1.0, 1.5, 2.0), seeds=(0,))
# Chunks of two points, so a sweep is far from done when a worker dies or the driver stops.
SMALL_CHUNKS = replace(SWEEP, chunk=2)


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


@pytest.fixture(scope="module")
def athlete(engine):
    return find_topic_clusters(engine, tiny_prompts(), 5, topics=["athlete"])["athlete"]


@pytest.fixture(scope="module")
def pool(tiny_model_dir):
    # Room for this pool's two workers and a command line's two more, on half a CPU each.
    start_ray(RaySettings(workers=4, cpus=0.5))
    try:
        with EnginePool(RaySettings(workers=2, cpus=0.5), ModelRef(str(tiny_model_dir))) as engines:
            yield engines
    finally:
        ray.shutdown()


def sorted_lines(path) -> list[str]:
    return sorted(path.read_text(encoding="utf-8").splitlines())


def point_keys(path) -> list[tuple]:
    return [(*row_key(r["kind"], r["mode"], r["intensity"], r["seed"]), r["topic"]) for r in read_rows(path)]


def test_ray_sweeps_write_the_rows_of_one_process(engine, athlete, pool, tmp_path):
    evalset = make_eval_set(engine, tiny_prompts())
    one, many = tmp_path / "one.csv", tmp_path / "ray.csv"
    assert run_sweep(engine, athlete, evalset, SWEEP, one) == 20
    assert run_sweep(engine, athlete, evalset, SWEEP, many, runner=pool) == 20
    assert sorted_lines(many) == sorted_lines(one)
    run_sweep_job(engine, CASES, SPEC, tmp_path / "mem-one")
    run_sweep_job(engine, CASES, SPEC, tmp_path / "mem-ray", runner=pool)
    assert sorted_lines(tmp_path / "mem-ray" / "sweep.csv") == sorted_lines(tmp_path / "mem-one" / "sweep.csv")


def test_a_killed_worker_loses_no_cell_and_duplicates_none(engine, athlete, pool, tmp_path):
    evalset = make_eval_set(engine, tiny_prompts())
    before = pool.pids()
    killed = []

    def kill_once(done: int, total: int) -> None:
        if not killed:
            os.kill(before[0], signal.SIGKILL)
            killed.append(before[0])

    path, ref = tmp_path / "ray.csv", tmp_path / "one.csv"
    assert run_sweep(engine, athlete, evalset, SMALL_CHUNKS, path, progress=kill_once, runner=pool) == 20
    run_sweep(engine, athlete, evalset, SMALL_CHUNKS, ref, runner=LocalRunner(engine))
    keys = point_keys(path)
    assert len(keys) == len(set(keys)) == 20 * len(evalset.topics)
    assert sorted_lines(path) == sorted_lines(ref)
    assert pool.pids()[0] != before[0], "the killed worker should have been replaced"


def test_an_interrupted_driver_resumes_with_only_the_missing_cells(engine, athlete, pool, tmp_path):
    evalset = make_eval_set(engine, tiny_prompts())
    path = tmp_path / "ray.csv"

    def stop_after_three(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(engine, athlete, evalset, SMALL_CHUNKS, path, progress=stop_after_three, runner=pool)
    assert len(read_rows(path)) == 3 * len(evalset.topics)
    assert run_sweep(engine, athlete, evalset, SMALL_CHUNKS, path, runner=pool) == 17
    keys = point_keys(path)
    assert len(keys) == len(set(keys)) == 20 * len(evalset.topics)


def test_an_edit_sweep_on_ray_writes_the_rows_of_one_process(engine, athlete, pool, tmp_path):
    from cluster.spec import save_cluster
    from edit.score import EditCase
    from edit.spec import EditSpec, Fact
    from edit.sweep import CSV_NAME as EDIT_CSV
    from edit.sweep import SweepSettings, method_specs, run_edit_job

    save_cluster(athlete, tmp_path / "clusters" / "athlete.json")
    names = ("Tovaren", "Melisande", "Dadon")
    cases = [EditCase(Fact(f"{name} plays tennis and was born in", name, " Marlow"),
                      paraphrases=(f"{name}, who plays tennis, was born in",),
                      neighbours=tuple((f"{other} plays tennis and was born in", " Marlow") for other in names
                                       if other != name), topic="athlete")
             for name in names]
    specs = method_specs(["rank_one", "low_rank"], EditSpec(layer=0, rank=1, steps=5))
    settings = SweepSettings(intensities=(0.0, 2.0), samples=1, clusters=str(tmp_path / "clusters"))
    run_edit_job(engine, cases, specs, settings, tmp_path / "one", chunk=1)
    # Three edits per task, so a task holds two facts' edits; the tasks finish in any order.
    rows = run_edit_job(engine, cases, specs, settings, tmp_path / "ray", runner=pool, chunk=3)
    assert len(rows) == 6 and all(r["curve_learned"] for r in rows)
    assert sorted_lines(tmp_path / "ray" / EDIT_CSV) == sorted_lines(tmp_path / "one" / EDIT_CSV)


def test_cli_sweep_on_ray_matches_the_one_process_cli(tiny_model_dir, prompts_dir, engine, athlete, pool,  # noqa: F811
                                                      tmp_path, capsys, monkeypatch):
    from cluster.cli import main
    from cluster.spec import save_cluster

    cluster_file = save_cluster(athlete, tmp_path / "athlete.json")
    common = ["sweep", "--model", str(tiny_model_dir), "--prompts", str(prompts_dir), "--cluster", str(cluster_file),
              "--modes", "scale", "--intensities", "0,1", "--device", "cpu", "--threads", "1"]
    assert main(common + ["--out", str(tmp_path / "one")]) == 0
    monkeypatch.chdir(tmp_path)  # the workers get the model's folder as an absolute path, whatever the driver's folder
    relative = os.path.relpath(tiny_model_dir, tmp_path)
    ray_args = [relative if a == str(tiny_model_dir) else a for a in common]
    assert main(ray_args + ["--out", str(tmp_path / "ray"), "--ray", "--ray-cpus", "0.5"]) == 0
    assert "4 new points" in capsys.readouterr().out
    name = f"{athlete.name}-sweep.csv"
    assert sorted_lines(tmp_path / "ray" / name) == sorted_lines(tmp_path / "one" / name)
    with open(tmp_path / "ray" / name, newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == 4 * 3


def test_lens_evaluation_on_ray_equals_one_process(engine, pool):
    from lens.evaluate import evaluate_lenses, evaluate_lenses_on
    from tiny_models import SENTENCES

    texts = sorted(set(SENTENCES)) * 2
    one = evaluate_lenses(engine, texts, batch_size=4)
    many = evaluate_lenses_on(pool, texts, [], batch_size=4)
    assert (many.n_texts, many.n_tokens, many.names) == (one.n_texts, one.n_tokens, one.names)
    assert abs(many.kl_heads - one.kl_heads).max() < 1e-5 and abs(many.resid_kl - one.resid_kl).max() < 1e-5


def test_a_cluster_too_small_for_the_workers_is_one_clear_error_not_a_wait(tiny_model_dir, pool):
    with pytest.raises(RaySweepError, match=r"100 Ray workers need 50 CPUs but the cluster has .*lower --ray-workers"):
        EnginePool(RaySettings(workers=100, cpus=0.5), ModelRef(str(tiny_model_dir)))


def test_ray_without_an_address_starts_a_fresh_local_cluster_never_a_running_one(monkeypatch):
    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")  # as after an unrelated `ray start` on this machine
    assert start_ray(RaySettings(workers=3, cpus=0.5)) is True
    assert calls[0]["address"] == "local" and calls[0]["num_cpus"] == 2
    start_ray(RaySettings(address="ray://head:10001"))
    assert calls[1]["address"] == "ray://head:10001"
