"""``python -m unlearn``: one-line refusals (exit 2) before any work, per-secret CSV rows, and a sweep that resumes."""

from __future__ import annotations

import csv
import json

import pytest

from promptsets.paths import DEMO_DIR
from unlearn import __main__ as cli

SECRETS = DEMO_DIR / "prompts" / "secrets.jsonl"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, words", [
    (["apply", "--model", str(DEMO_DIR), "--subject", "Nobody"], "unknown secret subject 'Nobody'"),
    (["apply", "--model", str(DEMO_DIR), "--budget", "999999"], "budget 999999 is out of range"),
    (["apply", "--model", str(DEMO_DIR), "--budget", "0"], "--budget"),
    (["localize", "--model", str(DEMO_DIR), "--secrets", "/nonexistent/s.jsonl"], "does not exist"),
    (["localize", "--model", str(DEMO_DIR), "--method", "finetune"], "--method"),
    (["apply", "--model", str(DEMO_DIR), "--split", "test"], "--split"),
    (["apply", "--model", str(DEMO_DIR), "--clean", "/nonexistent/clean.txt"], "does not exist"),
    (["sweep", "--model", str(DEMO_DIR), "--methods", "magic", "--out", "/tmp/unused-unlearn"], "unknown method 'magic'"),
])
def test_bad_input_is_refused_in_one_line_with_exit_2(capsys, argv, words):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and words in lines[0], err


def test_a_bad_secrets_file_is_refused_before_the_model_loads(capsys, tmp_path):
    bad = tmp_path / "s.jsonl"
    bad.write_text(json.dumps({"subject": "X", "prefix": "The code of X is"}) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "apply", "--model", "/nonexistent-model", "--secrets", str(bad))
    assert code == 2 and "lacks field" in err and "continuation" in err


def test_apply_prints_extraction_before_and_after_and_writes_one_row_per_secret(capsys, tmp_path):
    out_csv = tmp_path / "rows.csv"
    code, out, _ = run(capsys, "apply", "--model", str(DEMO_DIR), "--subject", "Cafin", "--method", "random",
                       "--budget", "8", "--limit", "10", "--csv", str(out_csv))
    assert code == 0
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert len(rows) == 1 and rows[0]["subject"] == "Cafin" and rows[0]["memorized_before"] == "True"
    assert rows[0]["generated_before"] == rows[0]["truth"] == " 5 2 4 8 7 0 5 3 3 1."
    assert "memorized (64 copies)" in out and "1-hop fact accuracy" in out and "->" in out


def _sweep(capsys, out, limit="5"):
    return run(capsys, "sweep", "--model", str(DEMO_DIR), "--subject", "Cafin", "--subject", "Brougound",
               "--methods", "random,attribution", "--budgets", "2,4", "--limit", limit, "--out", str(out))


def test_a_sweep_writes_its_rows_resumes_without_redoing_them_and_refuses_other_settings(capsys, tmp_path):
    out = tmp_path / "sweep"
    code, text, _ = _sweep(capsys, out)
    assert code == 0
    path = out / "unlearn.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [(r["method"], r["budget"]) for r in rows] == [("random", "2"), ("random", "4"),
                                                          ("attribution", "2"), ("attribution", "4")]
    assert all(r["memorized_k_before"] == "2" and r["memorized_n_before"] == "2" for r in rows)
    # A torn last line (an interrupted run) is dropped and that row is redone; the others are kept as they are.
    data = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(data[:-1]) + data[-1][:20], encoding="utf-8")
    code, again, _ = _sweep(capsys, out)
    assert code == 0 and list(csv.DictReader(path.open(encoding="utf-8"))) == rows
    code, _, err = _sweep(capsys, out, limit="6")
    assert code == 2 and "different" in err and "limit" in err


def test_any_model_unlearns_a_users_own_secrets_with_its_own_clean_text(capsys, tmp_path, tiny_model_dir):
    from engine import Engine
    from unlearn_world import own_secrets

    secrets = own_secrets(Engine.load(tiny_model_dir), tmp_path / "mine.jsonl", ("Hello there", "The cat sat"))
    clean = tmp_path / "clean.txt"
    clean.write_text("the dog ran home\nthe sun is warm\na bird sang today\nrain fell at night\n", encoding="utf-8")
    code, out, err = run(capsys, "apply", "--model", str(tiny_model_dir), "--secrets", str(secrets), "--clean",
                         str(clean), "--method", "mask", "--budget", "2", "--steps", "3")
    assert code == 0, err
    assert "memorized (all)          0.67" in out and f"{clean} (alternate lines)" in out
    code, _, err = run(capsys, "apply", "--model", str(tiny_model_dir), "--secrets", str(secrets), "--method", "mask")
    assert code == 2 and "--clean FILE" in err
