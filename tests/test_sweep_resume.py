"""A sweep resumed from any point writes the bytes of the uninterrupted sweep: every cell is computed
in the batch it gets in a full run (fixed chunks of the grid), whatever a rerun still lacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cluster import find_topic_clusters, make_eval_set
from cluster.sweep import SweepSpec as ClusterSpec
from cluster.sweep import meta_path, run_sweep
from engine import Engine
from memory import run_sweep_job
from memory.sweep import CSV_NAME, META_NAME
from memory.sweep import SweepSpec as MemorySpec
from test_cluster_engine import tiny_prompts
from test_memory_job import CASES


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


def cut_points(data: bytes) -> list[int]:
    """Every row boundary (after the header, after each row) and the middle of every row."""
    ends = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    middles = [(a + b) // 2 for a, b in zip(ends, ends[1:])]
    return sorted({0, *ends, *middles})


def resume_from_every_cut(full: Path, files: tuple[str, ...], csv_name: str, run, tmp_path: Path) -> int:
    """Cut ``full``'s CSV at each point, rerun into a copy, and return how many cuts were checked."""
    data = (full / csv_name).read_bytes()
    cuts = cut_points(data)
    for n, cut in enumerate(cuts):
        folder = tmp_path / f"cut-{n}"
        folder.mkdir()
        for name in files:
            shutil.copy(full / name, folder / name)
        (folder / csv_name).write_bytes(data[:cut])
        run(folder)
        assert (folder / csv_name).read_bytes() == data, f"resumed from byte {cut} of {len(data)}"
    return len(cuts)


def test_a_memory_sweep_resumed_from_any_cut_writes_the_uninterrupted_bytes(engine, tmp_path):
    # Six cells per case in chunks of four: a cut inside a chunk recomputes the whole chunk.
    spec = MemorySpec(layers=(0, 1, 2), scales=(1.0, 3.0), chunk=4)
    run_sweep_job(engine, CASES, spec, tmp_path / "full")
    n = resume_from_every_cut(tmp_path / "full", (META_NAME,), CSV_NAME,
                              lambda folder: run_sweep_job(engine, CASES, spec, folder), tmp_path)
    rows = 2 * 3 * 2
    assert n == 1 + (1 + rows) + rows  # the empty file, every line's end, the middle of every row


def test_a_cluster_sweep_resumed_from_any_cut_writes_the_uninterrupted_bytes(engine, tmp_path):
    athlete = find_topic_clusters(engine, tiny_prompts(), 5, topics=["athlete"])["athlete"]
    evalset = make_eval_set(engine, tiny_prompts())
    spec = ClusterSpec(modes=("scale", "noise"), intensities=(0.0, 1.0, 2.0), seeds=(0,), chunk=4)
    full = tmp_path / "full"
    assert run_sweep(engine, athlete, evalset, spec, full / "s.csv") == 12
    resume_from_every_cut(full, (meta_path(full / "s.csv").name,), "s.csv",
                          lambda folder: run_sweep(engine, athlete, evalset, spec, folder / "s.csv"), tmp_path)


def test_an_edit_sweep_resumed_from_any_cut_writes_the_uninterrupted_bytes(tmp_path):
    from edit.score import demo_cases
    from edit.spec import EditSpec
    from edit.sweep import CSV_NAME as EDIT_CSV
    from edit.sweep import META_NAME as EDIT_META
    from edit.sweep import SweepSettings, method_specs, run_edit_job
    from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_PROMPTS

    demo = Engine.load(str(DEMO_DIR))
    cases = demo_cases(2, 0, DEMO_PROMPTS, ("sport",))
    specs = method_specs(["rank_one", "low_rank"], EditSpec(layer=1, steps=10))
    # Each row is its own edit and curves; the second method reuses the case's learned curves, a resumed one
    # measures them again: the same numbers either way.
    settings = SweepSettings(intensities=(0.0, 3.0), samples=2, clusters=str(DEMO_CLUSTERS))
    run_edit_job(demo, cases, specs, settings, tmp_path / "full")
    n = resume_from_every_cut(tmp_path / "full", (EDIT_META,), EDIT_CSV,
                              lambda folder: run_edit_job(demo, cases, specs, settings, folder), tmp_path)
    assert n == 1 + (1 + 4) + 4
