"""An edit sweep run several edits per task writes the rows of one edit per task, byte for byte, and the
command line takes the same --chunk and Ray flags as the cluster and memory sweeps."""

from __future__ import annotations

import pytest

from edit.score import demo_cases
from edit.spec import EditSpec
from edit.sweep import CSV_NAME, SweepSettings, edit_chunks, method_specs, run_edit_job
from engine import Engine
from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_PROMPTS


@pytest.fixture(scope="module")
def demo() -> Engine:
    return Engine.load(str(DEMO_DIR))


def test_edit_chunks_cut_the_fact_by_method_grid_at_fixed_boundaries():
    assert edit_chunks(2, 2) == [[(0, 0), (0, 1)], [(1, 0), (1, 1)]]  # default: one fact's methods
    assert edit_chunks(2, 2, 3) == [[(0, 0), (0, 1), (1, 0)], [(1, 1)]]


def test_a_batched_edit_sweep_writes_the_bytes_of_the_one_edit_per_task_sweep(demo, tmp_path):
    cases = demo_cases(2, 0, DEMO_PROMPTS, ("sport",))
    specs = method_specs(["rank_one", "low_rank"], EditSpec(layer=1, steps=10))
    # With the topic clusters, so the learned curves (measured once per task and reused) are in the rows too.
    settings = SweepSettings(intensities=(0.0, 3.0), samples=2, clusters=str(DEMO_CLUSTERS))
    seen = []
    plain = run_edit_job(demo, cases, specs, settings, tmp_path / "plain", chunk=1)
    batched = run_edit_job(demo, cases, specs, settings, tmp_path / "batched", chunk=3,
                           progress=lambda done, total: seen.append((done, total)))
    assert len(plain) == len(batched) == 4 and seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert all(r["curve_learned"] and r["curve_learned"] != "nan;nan" for r in batched)
    data = (tmp_path / "plain" / CSV_NAME).read_bytes()
    assert (tmp_path / "batched" / CSV_NAME).read_bytes() == data
    # The chunk is not part of the sweep's identity: a sweep cut after its first row resumes with another one.
    (tmp_path / "plain" / CSV_NAME).write_bytes(data[:data.index(b"\n", data.index(b"\n") + 1) + 1])
    resumed = run_edit_job(demo, cases, specs, settings, tmp_path / "plain", chunk=3)
    assert [(r["key"], r["label"]) for r in resumed] == [(r["key"], r["label"]) for r in batched]
    assert (tmp_path / "plain" / CSV_NAME).read_bytes() == data


def test_the_edit_sweep_command_takes_the_chunk_and_ray_flags_of_the_other_sweeps():
    from cluster.cli import build_parser as cluster_parser
    from edit.__main__ import build_parser as edit_parser
    from memory.__main__ import build_parser as memory_parser

    def sweep_flags(parser) -> set[str]:
        sub = next(a for a in parser._actions if a.dest == "command").choices["sweep"]
        return {s for a in sub._actions for s in a.option_strings}

    shared = {"--chunk", "--threads", "--ray", "--ray-address", "--ray-workers", "--ray-cpus"}
    for parser in (cluster_parser(), memory_parser(), edit_parser()):
        assert shared <= sweep_flags(parser)
