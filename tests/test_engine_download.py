"""A Hub name is downloaded safely (safetensors, configs, tokenizer; never a pickle or a .py),
with progress, and never when offline or in a workshop: through a local stand-in for the Hub."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import Engine
from engine.errors import ModelLoadError
from fake_hub import FakeHub
from tiny_models import save_tiny_model
from tinystories import TINYSTORIES, requires_tinystories

ROOT = Path(__file__).resolve().parent.parent
NAME, PICKLED, CUSTOM = "lab/tiny-gpt2", "lab/pickle-only", "lab/custom-code"
PLANTED_PY = 'from pathlib import Path\nPath(__file__).with_name("RAN").write_text("ran")\n'


def planted_pickle(marker: Path) -> bytes:
    """A pickle that would run a shell command creating ``marker`` if it were ever unpickled."""
    return b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."


@pytest.fixture(scope="module")
def repos(tmp_path_factory) -> dict[str, Path]:
    """Three served repositories: a good one with a planted .bin and .py, a pickle-only one, a custom-code one."""
    good = save_tiny_model("gpt2", tmp_path_factory.mktemp("hub-good"))
    (good / "pytorch_model.bin").write_bytes(planted_pickle(good.parent / "PICKLE-RAN"))
    (good / "modeling_planted.py").write_text(PLANTED_PY, encoding="utf-8")
    pickled = tmp_path_factory.mktemp("hub-pickled")
    for file in good.iterdir():
        if not file.name.endswith((".safetensors", ".py")):
            shutil.copy(file, pickled / file.name)
    custom = tmp_path_factory.mktemp("hub-custom")
    for file in good.iterdir():
        shutil.copy(file, custom / file.name)
    config = json.loads((custom / "config.json").read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_planted.PlantedModel"}
    (custom / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return {NAME: good, PICKLED: pickled, CUSTOM: custom}


@pytest.fixture
def hub(repos):
    with FakeHub(repos) as server:
        yield server


def _env(hub: FakeHub, home: Path, offline: bool = False) -> dict[str, str]:
    env = dict(os.environ, HF_ENDPOINT=hub.url, HF_HOME=str(home), PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1",
               HF_HUB_OFFLINE="1" if offline else "0", TRANSFORMERS_OFFLINE="1" if offline else "0",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", HF_HUB_DISABLE_TELEMETRY="1")
    env.pop("HF_HUB_CACHE", None)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def _inject(name: str, *flags: str) -> list[str]:
    return ["-m", "memory", "inject", "--model", name, "--prompt", "Tovaren plays", "--memory", " tennis",
            "--layer", "0", "--scale", "1", "--device", "cpu", *flags]


def _snapshot_files(home: Path) -> set[str]:
    return {p.name for p in (home / "hub").rglob("*") if p.is_file() and "snapshots" in p.parts}


def test_the_cli_downloads_safetensors_only_and_then_works_offline(hub, repos, tmp_path):
    env = _env(hub, tmp_path / "home")
    done = _run(_inject(NAME), env)
    assert done.returncode == 0, done.stderr[-2000:]
    fetched = hub.fetched(NAME)
    assert "model.safetensors" in fetched and "config.json" in fetched and "tokenizer.json" in fetched
    assert not [f for f in fetched if f.endswith((".bin", ".py"))], fetched
    assert not [f for f in _snapshot_files(tmp_path / "home") if f.endswith((".bin", ".py"))]
    assert not (repos[NAME].parent / "PICKLE-RAN").exists()
    served = len(hub.served)
    again = _run(_inject(NAME, "--offline"), env)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(hub.served) == served, "a cached model was downloaded again"
    assert again.stdout == done.stdout


def test_engine_fetch_downloads_with_a_progress_bar_of_the_size(hub, tmp_path):
    done = _run(["-m", "engine", "fetch", NAME], _env(hub, tmp_path / "home"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"fetching {NAME}" in done.stderr and "B/" in done.stderr  # a bar of bytes with the total size
    folder = Path(done.stdout.strip().split(": ", 1)[1])
    assert (folder / "model.safetensors").is_file() and not (folder / "pytorch_model.bin").exists()


@pytest.mark.parametrize("how", ["--offline", "HF_HUB_OFFLINE=1"])
def test_offline_refuses_with_the_command_that_fetches(hub, tmp_path, how):
    env = _env(hub, tmp_path / "home", offline=how != "--offline")
    done = _run(_inject(NAME, *([how] if how == "--offline" else [])), env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: --model:") and f"python -m engine fetch {NAME}" in lines[-1], done.stderr
    assert hub.served == []
    fetch = _run(["-m", "engine", "fetch", NAME], env if how != "--offline" else _env(hub, tmp_path / "h", True))
    assert fetch.returncode == 2 and "HF_HUB_OFFLINE=1" in fetch.stderr and hub.served == []


def test_a_pickle_only_repo_is_refused_and_nothing_is_fetched(hub, tmp_path):
    done = _run(_inject(PICKLED), _env(hub, tmp_path / "home"))
    assert done.returncode == 2
    assert "only pickle weights (pytorch_model.bin)" in done.stderr and "safetensors" in done.stderr
    assert hub.served == []


def test_custom_code_is_refused_before_its_weights_or_code_are_fetched(hub, tmp_path):
    done = _run(_inject(CUSTOM), _env(hub, tmp_path / "home"))
    assert done.returncode == 2 and "own code" in done.stderr, done.stderr[-2000:]
    assert hub.fetched(CUSTOM) == {"config.json"}
    assert not any(p.name == "RAN" for p in (tmp_path / "home").rglob("*"))


def _online(monkeypatch, hub: FakeHub, home: Path) -> None:
    """In this process: the stand-in Hub, a fresh cache, downloads on (huggingface_hub read its env at import)."""
    from huggingface_hub import constants

    for key, value in _env(hub, home).items():
        if key.startswith(("HF_", "TRANSFORMERS_", "NO_PROXY", "no_proxy")):
            monkeypatch.setenv(key, value)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def test_engine_load_reports_progress_and_gives_the_local_models_fingerprint(hub, repos, tmp_path, monkeypatch):
    _online(monkeypatch, hub, tmp_path / "home")
    seen: list[tuple[int, int, str]] = []
    engine = Engine.load(NAME, progress=lambda done, total, name: seen.append((done, total, name)))
    total = sum(p.stat().st_size for p in repos[NAME].iterdir() if p.suffix in (".json", ".safetensors", ".txt"))
    assert seen[-1][:2] == (total, total)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)
    assert "model.safetensors" in {n for _, _, n in seen}
    assert engine.spec.fingerprint == Engine.load(repos[NAME]).spec.fingerprint


def test_engine_load_offline_or_unknown_names_say_what_to_do(hub, tmp_path, monkeypatch):
    _online(monkeypatch, hub, tmp_path / "home")
    with pytest.raises(ModelLoadError, match=f"fetch it first: python -m engine fetch {NAME}"):
        Engine.load(NAME, offline=True)
    with pytest.raises(ModelLoadError, match="no model 'lab/no-such-model' on the Hub"):
        Engine.load("lab/no-such-model")
    assert hub.served == []


def test_the_sidebar_fetches_a_hub_name_with_a_sized_progress_bar(hub, tmp_path, monkeypatch):
    from test_app_helpers import assert_clean, charts, open_link

    import ui.fetch

    monkeypatch.delenv("LENSLAB_WORKSHOP", raising=False)
    _online(monkeypatch, hub, tmp_path / "home")
    reports: list[tuple[int, int, str]] = []
    real = ui.fetch.fetch

    def spy(model, progress, planned):
        return real(model, progress=lambda *a: (reports.append(a), progress(*a)), planned=planned)

    monkeypatch.setattr(ui.fetch, "fetch", spy)
    at = open_link("app_pages/lens.py", {"model": NAME})
    assert_clean(at)
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert f"Fetched {NAME} from the Hugging Face Hub" in captions and "MB" in captions, captions
    assert reports and reports[-1][0] == reports[-1][1] > 0
    assert "model.safetensors" in hub.fetched(NAME) and not [f for f in hub.fetched(NAME) if f.endswith((".bin", ".py"))]
    assert at.title[0].value == "Lens" and charts(at), "the page did not draw the fetched model's logit lens"


def test_a_workshop_never_downloads_and_says_how_to_fetch(hub, tmp_path, monkeypatch):
    import streamlit as st
    from test_app_helpers import assert_user_error, open_app

    st.cache_resource.clear()  # an engine loaded by an earlier test would be served from memory
    _online(monkeypatch, hub, tmp_path / "home")
    monkeypatch.setenv("LENSLAB_WORKSHOP", "1")
    monkeypatch.setenv("LENSLAB_MODEL", NAME)
    at = open_app("app_pages/lens.py")
    assert_user_error(at, f"python -m engine fetch {NAME}")
    assert hub.served == []




@requires_tinystories
def test_a_real_llama_with_a_sentencepiece_tokenizer_downloads_and_reads_as_its_folder(tmp_path, monkeypatch):
    served = tmp_path / "served"
    shutil.copytree(TINYSTORIES, served)
    (served / "pytorch_model.bin").write_bytes(planted_pickle(tmp_path / "PICKLE-RAN"))
    with FakeHub({"lab/tinystories": served}) as hub:
        _online(monkeypatch, hub, tmp_path / "home")
        fetched = Engine.load("lab/tinystories", dtype="bfloat16")
        assert not [f for f in hub.fetched("lab/tinystories") if f.endswith((".bin", ".py"))]
    local = Engine.load(TINYSTORIES, dtype="bfloat16")
    prompt = "Once upon a time, a little girl"
    assert fetched.encode(prompt) == local.encode(prompt)
    assert fetched.token_ids(" girl") == local.token_ids(" girl")
    assert fetched.spec.dtype == "bfloat16"
    assert fetched.spec.fingerprint == local.spec.fingerprint == Engine.load(TINYSTORIES).spec.fingerprint
    assert torch.equal(fetched.run(prompt).logits, local.run(prompt).logits)
