"""``python -m edit``: one edit printed, and a sweep that writes a CSV, resumes and refuses other settings."""

from __future__ import annotations

import argparse

import csv

import pytest

from edit.__main__ import main, parse_floats
from edit.spec import EditError
from edit.sweep import summarise
from promptsets.paths import DEMO_CLUSTERS, DEMO_DIR, DEMO_PROMPTS

SWEEP = ["sweep", "--model", str(DEMO_DIR), "--prompts", str(DEMO_PROMPTS), "--clusters", str(DEMO_CLUSTERS),
         "--n", "2", "--methods", "rank_one,interp", "--steps", "20", "--intensities", "0,3,30", "--samples", "2",
         "--heldout", "4"]


def test_apply_prints_before_after_and_scores(capsys):
    code = main(["apply", "--model", str(DEMO_DIR), "--prompt", "Dadon plays", "--subject", "Dadon",
                 "--new", " cycling", "--prompts", str(DEMO_PROMPTS), "--method", "low_rank", "--rank", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert "'Dadon plays' -> ' cycling'" in out and "top ' rugby' -> ' cycling'" in out
    assert out.count("[paraphrase]") == 2 and out.count("[neighbour ]") == 8
    assert "efficacy 100%" in out


def test_apply_without_heldout_text_says_damage_was_not_measured(capsys):
    code = main(["apply", "--model", str(DEMO_DIR), "--prompt", "Dadon plays", "--subject", "Dadon",
                 "--new", " cycling", "--prompts", str(DEMO_PROMPTS), "--method", "rank_one", "--heldout", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert "damage not measured (--heldout 0)" in out
    assert "nan" not in out


def test_sweep_writes_rows_resumes_and_refuses_other_settings(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(SWEEP + ["--out", str(out)]) == 0
    first = capsys.readouterr().out
    with open(out / "edits.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {r["method"] for r in rows} == {"rank_one", "interp"}
    # Every rank-one edit took at intensity 0 (1-LI keeps half of a 20-step fine-tune: on this model it does not take).
    assert all(r["curve_edited"].split(";")[0] == "1" for r in rows if r["method"] == "rank_one")
    assert "| rank-one (closed form) | 2 |" in first
    # A torn last line (an interrupted run) is measured again; the complete rows are kept.
    text = (out / "edits.csv").read_text(encoding="utf-8").splitlines()
    (out / "edits.csv").write_text("\n".join(text[:-1] + [text[-1][:30]]) + "\n", encoding="utf-8")
    assert main(SWEEP + ["--out", str(out)]) == 0
    again = capsys.readouterr().out
    with open(out / "edits.csv", newline="", encoding="utf-8") as f:
        resumed = list(csv.DictReader(f))
    assert [(r["key"], r["label"]) for r in resumed] == [(r["key"], r["label"]) for r in rows]
    assert resumed[:3] == rows[:3]
    assert again.splitlines()[2:] == first.splitlines()[2:]
    assert main(SWEEP[:-2] + ["--heldout", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "different heldout_sha256, n_heldout (n_heldout: 4 there, 5 now)" in err and "another --out" in err


def test_summary_counts_never_halving_as_robust():
    rows = [dict(label="a", efficacy=1.0, generalisation=1.0, specificity=1.0, damage=0.0, halving_edited=h,
                 halving_learned=2.0, halving_edited_random=1.0) for h in (1.0, float("inf"), float("inf"))]
    (s,) = summarise(rows)
    assert s.halving_edited == float("inf") and s.n == 3


def test_intensity_ranges_read_like_the_other_clis():
    assert parse_floats("0:2:0.5") == (0.0, 0.5, 1.0, 1.5, 2.0)
    assert parse_floats("1,0.5,0") == (1.0, 0.5, 0.0)
    with pytest.raises(argparse.ArgumentTypeError, match="start:stop"):
        parse_floats("0:x")
    with pytest.raises(argparse.ArgumentTypeError, match="at most"):
        parse_floats("0:1e12:1e-9")  # counted, never built


@pytest.mark.parametrize("flags, words", [
    (["--rank", "0"], "--rank"), (["--alpha", "nan"], "--alpha"), (["--layer", "9"], "layers 0-3"),
])
def test_bad_flags_are_one_line_errors_naming_the_fix(flags, words, capsys):
    code = main(["apply", "--model", str(DEMO_DIR), "--prompt", "Dadon plays", "--subject", "Dadon",
                 "--new", " cycling", *flags])
    last = capsys.readouterr().err.strip().splitlines()[-1]  # (loading the model may draw a bar above it)
    assert code == 2 and last.startswith("error: ") and words in last


def test_a_second_sweep_into_a_busy_folder_is_refused(tmp_path, capsys):
    from sweeps import OutputLock

    out = tmp_path / "busy"
    with OutputLock(out):
        assert main(SWEEP + ["--out", str(out)]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: ")
    assert not (out / "edits.csv").exists()
