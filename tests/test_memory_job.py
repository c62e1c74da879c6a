"""Resumable sweep jobs and the ``python -m memory`` command line, on a tiny random GPT-2."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from engine import Engine
from memory import SweepCase, SweepResumeError, SweepSpec, run_sweep_job
from memory.__main__ import main, parse_range
from memory.inject import MemorySpecError
from memory.sweep import CSV_NAME, META_NAME
from promptsets.schema import TWO_HOP_FILE, TwoHopPrompt, write_jsonl

CASES = [SweepCase("0:bridge", "The founder of Zentrix was born in", " Marlow", " Tovaren", "bridge"),
         SweepCase("0:control", "The founder of Zentrix was born in", " Marlow", " Melisande", "control")]
SPEC = SweepSpec(layers=(0, 2), scales=(1.0, 4.0))


@pytest.fixture(scope="module")
def engine(tiny_model_dir) -> Engine:
    return Engine.load(str(tiny_model_dir))


def rows(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_job_writes_every_cell_once_and_heatmaps(engine, tmp_path):
    sweep = run_sweep_job(engine, CASES, SPEC, tmp_path)
    got = rows(tmp_path / CSV_NAME)
    assert len(got) == 2 * 2 * 2
    assert {(r["key"], int(r["layer"]), float(r["scale"])) for r in got} == {
        (c.key, l, s) for c in CASES for l in (0, 2) for s in (1.0, 4.0)}
    for r in got:
        assert float(r["gain"]) == pytest.approx(float(r["p_after"]) / float(r["p_before"]), rel=1e-9)
    assert (tmp_path / "heatmap_bridge.html").is_file() and (tmp_path / "heatmap_control.html").is_file()
    assert json.loads((tmp_path / META_NAME).read_text())["model"] == engine.spec.fingerprint
    assert sweep.p_after.shape == (2, 2, 2)


def test_interrupted_job_resumes_without_redoing_or_duplicating(engine, tmp_path):
    full = run_sweep_job(engine, CASES, SPEC, tmp_path / "full")
    part = tmp_path / "part"
    run_sweep_job(engine, CASES, SPEC, part)
    lines = (part / CSV_NAME).read_text(encoding="utf-8").splitlines(keepends=True)
    # Keep the header and three rows, then a row torn in the middle, as a killed run leaves it.
    (part / CSV_NAME).write_text("".join(lines[:4]) + lines[4][:20], encoding="utf-8")
    seen = []
    resumed = run_sweep_job(engine, CASES, SPEC, part, progress=lambda d, t: seen.append(d))
    np.testing.assert_allclose(resumed.p_after, full.p_after, rtol=1e-6)
    got = rows(part / CSV_NAME)
    assert len(got) == 8 and len({(r["key"], r["layer"], r["scale"]) for r in got}) == 8
    assert seen[-1] == 8


def test_resuming_with_other_settings_is_refused(engine, tmp_path):
    run_sweep_job(engine, CASES, SPEC, tmp_path)
    with pytest.raises(SweepResumeError, match="another --out"):
        run_sweep_job(engine, CASES, SweepSpec(layers=(0, 2), scales=(1.0, 5.0)), tmp_path)
    with pytest.raises(SweepResumeError, match="cases"):
        run_sweep_job(engine, CASES[:1], SPEC, tmp_path)


def test_parse_range_includes_the_stop():
    assert parse_range("1:15:1", float) == tuple(float(i) for i in range(1, 16))
    assert parse_range("0.5:1.5:0.5", float) == (0.5, 1.0, 1.5)
    assert parse_range("0,2", int) == (0, 2)
    with pytest.raises(MemorySpecError, match="start:stop"):
        parse_range("1:x", float)


def test_cli_inject_prints_before_and_after(tiny_model_dir, capsys):
    code = main(["inject", "--model", str(tiny_model_dir), "--prompt", "The founder of Zentrix was born in",
                 "--memory", " Tovaren", "--answer", " Marlow", "--layer", "1", "--scale", "3"])
    out = capsys.readouterr().out
    assert code == 0 and "before" in out and "after" in out and "gain" in out


def test_cli_reports_user_errors_in_one_line(tiny_model_dir, capsys):
    code = main(["inject", "--model", str(tiny_model_dir), "--prompt", "Hello", "--memory", " Tovaren",
                 "--layer", "9"])
    err = capsys.readouterr().err
    assert code == 2 and "layer 9 does not exist" in err and "Traceback" not in err


def test_cli_sweep_writes_csv_for_the_split(tiny_model_dir, tmp_path, capsys):
    prompts = [TwoHopPrompt("born", "The founder of Zentrix was born in", " Marlow", " Tovaren", " Zentrix",
                            split, " Melisande") for split in ("heldout", "taught", "heldout")]
    write_jsonl(tmp_path / "prompts" / TWO_HOP_FILE, prompts)
    code = main(["sweep", "--model", str(tiny_model_dir), "--prompts", str(tmp_path / "prompts"),
                 "--layers", "0:1", "--scales", "1:3:2", "--out", str(tmp_path / "out")])
    assert code == 0
    got = rows(tmp_path / "out" / CSV_NAME)
    assert len(got) == 2 * 2 * 2 * 2  # heldout prompts x (bridge, control) x layers x scales
    assert {r["key"].split(":")[0] for r in got} == {"0", "1"}
    assert "bridge" in capsys.readouterr().out
