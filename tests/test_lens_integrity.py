"""Lens folders are all or nothing: no silent overwrite, no half-written folder, no tampered or NaN weights."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from safetensors import safe_open
from safetensors.torch import save_file

from engine import Engine
from lens import LensFormatError, load_lenses
from lens.cli import main
from lens.header import HEADER_FILE, LensHeader, layer_file, tensor_digest, write_header
from lens.storage import CHECKPOINT_FILE
from lens.train import train_lenses
from test_lens_original import Spec, _ckpt
from tiny_models import SENTENCES

ROOT = Path(__file__).resolve().parent.parent
TINY = Spec(n_layers=3, n_heads=4, d_model=32, d_vocab=300)
TEXTS = [f"{s} {i}" for i, s in enumerate(SENTENCES)]
KILL_AT_HEADER = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {root!r})
    import lens.storage
    def write_header(folder, header):
        os.kill(os.getpid(), signal.SIGKILL)  # the weights are written, the header is not
    lens.storage.write_header = write_header
    from lens.cli import main
    main({argv!r})
""")


@pytest.fixture(scope="module")
def eng(tiny_model_dir) -> Engine:
    return Engine.load(tiny_model_dir)


@pytest.fixture()
def trained(tiny_model_dir, tmp_path) -> Path:
    data = tmp_path / "text.txt"
    data.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    folder = tmp_path / "lenses"
    assert main(["train", "--model", str(tiny_model_dir), "--out", str(folder), "--steps", "2", "--data", str(data),
                 "--batch-size", "8"]) == 0
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _import_args(tiny_model_dir, folder: Path, ckpt: Path, *extra: str) -> list[str]:
    return ["import", "--model", str(tiny_model_dir), "--out", str(folder), *extra, str(ckpt)]


def test_import_into_a_trained_folder_needs_overwrite_and_then_replaces_it_whole(
        tiny_model_dir, trained, eng, tmp_path, capsys):
    ckpt = tmp_path / "attnlens-layer-1-epoch=00-step=10-train_loss=1.0.ckpt"
    _ckpt(ckpt, TINY)
    before = _snapshot(trained)
    assert main(_import_args(tiny_model_dir, trained, ckpt)) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "already holds lenses; pass --overwrite" in err
    assert _snapshot(trained) == before
    assert main(_import_args(tiny_model_dir, trained, ckpt, "--overwrite")) == 0
    assert sorted(p.name for p in trained.iterdir()) == sorted([HEADER_FILE, layer_file(1)])
    lenses = load_lenses(trained, eng)
    assert lenses.layers == (1,) and lenses.kind == "full"
    lenses.layer(1)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock")]
    assert leftovers == []  # no staging or old folder left beside it


def test_a_folder_with_other_files_is_never_replaced(tiny_model_dir, tmp_path, capsys):
    ckpt = tmp_path / "attnlens-layer-0-x.ckpt"
    _ckpt(ckpt, TINY)
    (tmp_path / "notes.txt").write_text("mine")
    assert main(_import_args(tiny_model_dir, tmp_path, ckpt, "--overwrite")) == 2
    assert "not lenses (attnlens-layer-0-x.ckpt, notes.txt)" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_kill_after_the_weights_before_the_header_leaves_the_old_folder_loading(
        tiny_model_dir, trained, eng, tmp_path):
    ckpt = tmp_path / "attnlens-layer-1-epoch=00-step=10-train_loss=1.0.ckpt"
    _ckpt(ckpt, TINY)
    before = _snapshot(trained)
    script = KILL_AT_HEADER.format(root=str(ROOT), argv=_import_args(tiny_model_dir, trained, ckpt, "--overwrite"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    assert _snapshot(trained) == before
    lenses = load_lenses(trained, eng)
    assert lenses.kind == "compact" and lenses.layers == (0, 1, 2)
    lenses.layer(1)
    assert main(_import_args(tiny_model_dir, trained, ckpt, "--overwrite")) == 0
    assert load_lenses(trained, eng).kind == "full"


def _rewrite_layer(folder: Path, layer: int, change) -> None:
    path = folder / layer_file(layer)
    with safe_open(str(path), framework="pt") as f:
        state = {name: f.get_tensor(name) for name in f.keys()}
    change(state)
    save_file(state, str(path))


def test_a_changed_weight_is_caught_by_its_hash(trained, eng):
    _rewrite_layer(trained, 2, lambda s: next(iter(s.values())).view(-1)[0].add_(1.0))
    lenses = load_lenses(trained, eng)
    lenses.layer(0)
    with pytest.raises(LensFormatError, match="does not match the content hashes"):
        lenses.layer(2)


def test_non_finite_weights_are_refused_at_load_and_at_save(trained, eng, tmp_path):
    _rewrite_layer(trained, 1, lambda s: next(iter(s.values())).view(-1)[3].fill_(float("nan")))
    header = LensHeader.from_json((trained / HEADER_FILE).read_text())
    with safe_open(str(trained / layer_file(1)), framework="pt") as f:
        fresh = {(1, n, tensor_digest(f.get_tensor(n))) for n in f.keys()}
    hashes = tuple(sorted({h for h in header.hashes if h[0] != 1} | fresh))
    write_header(trained, LensHeader(**{**header.__dict__, "hashes": hashes}))  # hashes agree: only NaN is wrong
    with pytest.raises(LensFormatError, match="NaN or inf"):
        load_lenses(trained, eng).layer(1)
    with pytest.raises(LensFormatError, match="lower --lr"):
        train_lenses(eng, TEXTS, tmp_path / "nan", layers=[0], steps=2, batch_size=8, lr=float("inf"),
                     progress=lambda *a: None)
    assert not (tmp_path / "nan" / HEADER_FILE).exists()


def test_a_header_without_hashes_is_refused(trained, eng):
    body = json.loads((trained / HEADER_FILE).read_text())
    body["version"], body["hashes"] = 1, []
    (trained / HEADER_FILE).write_text(json.dumps(body))
    with pytest.raises(LensFormatError, match="version 1.*retrain or re-import"):
        load_lenses(trained, eng)


class Stop(Exception):
    pass


def _stop_at(n: int):
    def progress(done, total):
        if done == n:
            raise Stop
    return progress


@pytest.mark.parametrize("redigest", [False, True])
def test_a_checkpoint_with_an_edited_step_is_not_resumed(eng, tmp_path, caplog, redigest):
    kwargs = dict(layers=[0], steps=6, batch_size=8, checkpoint_every=2)
    with pytest.raises(Stop):
        train_lenses(eng, TEXTS, tmp_path, progress=_stop_at(3), **kwargs)
    path = tmp_path / CHECKPOINT_FILE
    with safe_open(str(path), framework="pt") as f:
        meta, tensors = f.metadata(), {n: f.get_tensor(n) for n in f.keys()}
    assert meta["step"] == "2"
    meta["step"] = "5"  # passes step-2 weights off as nearly trained
    if redigest:  # even with the digest recomputed, Adam's own step count disagrees
        from lens.storage import _digest
        meta["digest"] = _digest(meta, tensors)
    save_file(tensors, str(path), metadata=meta)
    seen = []
    train_lenses(eng, TEXTS, tmp_path, progress=lambda d, t: seen.append(d), **kwargs)
    assert seen == [1, 2, 3, 4, 5, 6]
    assert "ignoring" in caplog.text and ("digest" in caplog.text or "step count" in caplog.text)


def test_a_second_training_into_a_folder_being_trained_is_refused(tiny_model_dir, tmp_path, capsys):
    from test_sweep_files import HOLDER

    data = tmp_path / "text.txt"
    data.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    folder = tmp_path / "lenses"
    script = HOLDER.format(root=str(ROOT), folder=str(tmp_path), name=".lenses.lock")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        argv = ["train", "--model", str(tiny_model_dir), "--out", str(folder), "--steps", "1", "--data", str(data),
                "--batch-size", "8"]
        assert main(argv) == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert f"another run (process {holder.pid})" in last
        assert not folder.exists()
    finally:
        holder.kill()
        holder.wait()
    assert main(argv) == 0
