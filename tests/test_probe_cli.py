"""`python -m probe`: fit prints and writes its table; attribute and retrain write their rows and resume; bad input
is refused in one line with exit status 2 before any work."""

from __future__ import annotations

import csv
import json

import pytest

from probe import __main__ as cli


def run(capsys, *args) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error(err: str, words: str) -> None:
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0], err
    assert "Traceback" not in err


def test_fit_prints_every_site_and_writes_its_rows(capsys, tiny_world_dir, tmp_path):
    code, out, _ = run(capsys, "fit", "--model", tiny_world_dir, "--concept", "role", "--csv", tmp_path / "f.csv")
    assert code == 0
    assert "majority baseline" in out and "resid embed" in out and "mlp_out 1" in out and "appears at:" in out
    rows = list(csv.DictReader(open(tmp_path / "f.csv")))
    assert len(rows) == 3 + 2 and {r["site"] for r in rows} == {"resid", "mlp_out"}


def test_attribute_writes_rows_and_a_rerun_reads_them_back(capsys, tiny_world_dir, tmp_path):
    args = ["attribute", "--model", tiny_world_dir, "--concept", "role", "--targets", 2, "--others", 10, "--k", 3,
            "--proj-dim", 64, "--out", tmp_path]
    code, first, _ = run(capsys, *args)
    assert code == 0 and "trak" in first and "gradsim" in first
    rows = list(csv.DictReader(open(tmp_path / "attribution.csv")))
    assert len(rows) == 2 * 3 * 3 and {r["states_fact"] for r in rows} <= {"True", "False"}
    stamp = (tmp_path / "attribution.csv").stat().st_mtime_ns
    code, again, _ = run(capsys, *args)
    assert code == 0 and again == first and (tmp_path / "attribution.csv").stat().st_mtime_ns == stamp
    code, _, err = run(capsys, *args[:-4], "--k", 4, "--out", tmp_path)
    assert code == 2
    one_error(err, "spec.k")


def test_retrain_runs_each_condition_once_and_resumes(capsys, tiny_world_dir, tmp_path):
    args = ["retrain", "--model", tiny_world_dir, "--concept", "role", "--targets", 2, "--others", 10, "--k", 2,
            "--proj-dim", 64, "--steps", 3, "--out", tmp_path]
    code, out, _ = run(capsys, *args)
    assert code == 0
    rows = list(csv.DictReader(open(tmp_path / "retrain.csv")))
    assert [r["condition"] for r in rows] == ["control", "attributed", "random"]
    assert rows[0]["dropped"] == "0" and int(rows[1]["dropped"]) > 0 and rows[2]["dropped"] == rows[1]["dropped"]
    assert "shipped" in out and all(r["steps"] == "3" for r in rows)
    assert run(capsys, *args)[0] == 0
    assert len(list(csv.DictReader(open(tmp_path / "retrain.csv")))) == 3  # nothing retrained twice


@pytest.mark.parametrize("extra, words", [
    (["--concept", "colour"], "no concept 'colour'"),
    (["--concept", "role", "--concepts", "NOPE"], "no concepts file"),
    (["--concept", "role", "--site", "resid", "--layer", "9"], "layer 9 does not exist"),
    (["--concept", "role", "--layer", "1"], "--layer needs --site"),
    (["--concept", "role", "--facts", "NOPE"], "--facts: no file"),
    (["--concept", "role", "--k", "0"], "--k"),
])
def test_bad_input_is_one_line_and_exit_status_2(capsys, tiny_world_dir, tmp_path, extra, words):
    extra = [str(tmp_path / e) if e == "NOPE" else e for e in extra]
    code, _, err = run(capsys, "attribute", "--model", tiny_world_dir, "--out", tmp_path / "o", *extra)
    assert code == 2
    one_error(err, words)


def test_a_concept_with_one_label_is_refused(capsys, tiny_world_dir, tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text("\n".join(json.dumps({"concept": "c", "label": "x", "prompt": s, "subject": s, "split": sp})
                             for s, sp in (("A", "train"), ("B", "heldout"))) + "\n")
    code, _, err = run(capsys, "fit", "--model", tiny_world_dir, "--concepts", one, "--concept", "c")
    assert code == 2
    one_error(err, "one label")


def test_bad_conditions_are_refused(capsys, tiny_world_dir, tmp_path):
    code, _, err = run(capsys, "retrain", "--model", tiny_world_dir, "--concept", "role", "--conditions", "all",
                       "--out", tmp_path)
    assert code == 2
    one_error(err, "--conditions")
