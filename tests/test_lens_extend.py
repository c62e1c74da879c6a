"""Lenses trained a few layers at a time: the set grown layer by layer is the set trained whole, a stopped
run continues from its checkpoint, and new layers must follow the folder's recipe."""

from __future__ import annotations

import pytest
import torch

from engine import Engine
from lens import train_lenses
from lens.errors import LensSpecError
from lens.extend import add_layers, stopped_at, training_folder
from tiny_models import SENTENCES

TEXTS = [f"{s} {i}" for i, s in enumerate(SENTENCES)]
KWARGS = dict(kind="compact", steps=6, batch_size=8, checkpoint_every=2)


class Stop(Exception):
    pass


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


def quiet(done: int, total: int) -> None:
    pass


def assert_same_lenses(a, b, layers) -> None:
    for layer in layers:
        for name, p in a.layer(layer).state_dict().items():
            torch.testing.assert_close(p, b.layer(layer).state_dict()[name], rtol=0, atol=1e-6)


def test_layers_added_one_by_one_equal_the_set_trained_whole(eng, tmp_path):
    whole = train_lenses(eng, TEXTS, tmp_path / "whole", layers=[0, 2], progress=quiet, **KWARGS)
    first = add_layers(eng, TEXTS, tmp_path / "grown", [2], progress=quiet, **KWARGS)
    assert first.layers == (2,)
    grown = add_layers(eng, TEXTS, tmp_path / "grown", [0, 2], progress=quiet, **KWARGS)
    assert grown.layers == (0, 2)
    assert_same_lenses(whole, grown, (0, 2))
    assert grown.header.final_kl == whole.header.final_kl
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["grown", "whole"], "staging is removed"


def test_a_stopped_addition_continues_from_its_checkpoint(eng, tmp_path):
    out = tmp_path / "lenses"
    add_layers(eng, TEXTS, out, [0], progress=quiet, **KWARGS)

    def stop_after_5(done, total):
        if done == 5:
            raise Stop

    with pytest.raises(Stop):
        add_layers(eng, TEXTS, out, [1], progress=stop_after_5, **KWARGS)
    stopped = stopped_at(training_folder(out, [1]))
    assert (stopped.step, stopped.steps, stopped.layers, stopped.kind) == (4, 6, (1,), "compact")
    seen = []
    resumed = add_layers(eng, TEXTS, out, [1], progress=lambda d, t: seen.append(d), **KWARGS)
    assert seen == [5, 6]
    whole = train_lenses(eng, TEXTS, tmp_path / "whole", layers=[0, 1], progress=quiet, **KWARGS)
    assert_same_lenses(whole, resumed, (0, 1))
    assert stopped_at(training_folder(out, [2])) is None


def test_new_layers_must_follow_the_folders_recipe(eng, tmp_path):
    out = tmp_path / "lenses"
    add_layers(eng, TEXTS, out, [0], progress=quiet, **KWARGS)
    seen = []
    with pytest.raises(LensSpecError, match="another steps"):
        add_layers(eng, TEXTS, out, [1], progress=lambda d, t: seen.append(d), **{**KWARGS, "steps": 7})
    assert seen == [], "refused before any step"
    with pytest.raises(LensSpecError, match="already have lenses"):
        add_layers(eng, TEXTS, out, [0], progress=quiet, **KWARGS)


def test_lens_train_add_grows_the_folder_from_the_command_line(tiny_model_dir, tmp_path, capsys):
    from lens.cli import main

    data = tmp_path / "text.txt"
    data.write_text("\n".join(TEXTS) + "\n")
    base = ["train", "--model", str(tiny_model_dir), "--out", str(tmp_path / "lenses"), "--data", str(data),
            "--steps", "3", "--batch-size", "8"]
    assert main(base + ["--fixed", "--layers", "0"]) == 0
    assert main(base + ["--fixed", "--layers", "1,2", "--add"]) == 0
    assert "now holds compact lenses for layers [0, 1, 2]" in capsys.readouterr().out
    assert main(base + ["--layers", "1", "--add"]) == 2
    assert "give --fixed and --layers" in capsys.readouterr().err
