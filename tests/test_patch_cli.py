"""`python -m patch`: the grids it prints, and bad input refused in one line with exit status 2."""

from __future__ import annotations

import pytest

from patch import cli
from promptsets.paths import DEMO_DIR

FLAGS = {"--model": str(DEMO_DIR), "--clean": "Higrus plays", "--corrupted": "Thoutal plays",
         "--answer": " football", "--corrupted-answer": " cycling"}
PAIR = [x for kv in FLAGS.items() for x in kv]


def test_the_command_prints_three_grids_and_writes_the_rows(capsys, tmp_path):
    out = tmp_path / "rows.csv"
    assert cli.main(PAIR + ["--csv", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.count("\nlayer\t") == 3 and "clean 7.3677" in text
    lines = out.read_text().splitlines()
    assert lines[0] == "site,layer,index,label,share" and len(lines) == 1 + 4 * (3 + 4 + 3)  # 4 layers x (3 positions, 4 heads, 3 MLP positions)


@pytest.mark.parametrize("flag, value, words", [
    ("--corrupted", "Drinex plays football", "same token length"),
    ("--corrupted-answer", " football", "two different answers"),
    ("--metric", "bogus", "--metric"),
    ("--direction", "sideways", "--direction"),
])
def test_bad_input_is_one_line_and_exit_status_2(capsys, flag, value, words):
    args = [x for kv in {**FLAGS, flag: value}.items() for x in kv]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line.lower()]  # (the model loader's progress aside)
    assert len(errors) == 1 and errors[0].startswith("error: ") and words in errors[0], err
    assert "Traceback" not in err
