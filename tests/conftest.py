"""Shared fixtures: tiny offline models built once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from tiny_models import FAMILIES, save_tiny_model  # noqa: E402

# Tests run many small forwards: one thread avoids stalls when the cores are busy, and gives
# the same sums in the same order on every machine.
torch.set_num_threads(1)
# The same for numpy's, scipy's and scikit-learn's thread pools: small problems, where extra threads only spin.
threadpool_limits(limits=1)


# Modules that start browsers, servers, subprocesses or Ray, or train and rebuild on real models: all of
# them run in ./run.sh test; `pytest -m "not slow"` leaves them out while you work.
SLOW_MODULES = frozenset({
    "test_browser", "test_warmup", "test_ray_sweeps", "test_cli_interrupt", "test_fault_injection",
    "test_sweep_files", "test_sweep_resume", "test_lens_integrity", "test_app_commands", "test_engine_download",
    "test_engine_lean", "test_tinystories_cli", "test_tinystories_pages", "test_cluster_science",
    "test_answer_tokens", "test_precision", "test_patch_cli", "test_world", "test_memory_demo", "test_browser_unlearn",
    "test_probe_cli", "test_browser_probe",
})


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


# The engine tests run on every device this machine has: the CPU, and CUDA where there is one.
DEVICES = ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


@pytest.fixture(scope="session", params=DEVICES)
def device(request) -> str:
    """A device the engine runs on (parametrised: CUDA tests appear only where CUDA exists)."""
    return request.param


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random GPT-2 with its tokenizer, saved in a temporary folder."""
    return save_tiny_model("gpt2", tmp_path_factory.mktemp("tiny-gpt2"))


@pytest.fixture(scope="session", params=FAMILIES)
def tiny_family_dir(request, tmp_path_factory) -> tuple[str, Path]:
    """(family, folder) for a tiny random model of every supported family."""
    family = request.param
    return family, save_tiny_model(family, tmp_path_factory.mktemp(f"tiny-{family}"))


@pytest.fixture(scope="session")
def tiny_world_dir(tmp_path_factory) -> Path:
    """A tiny world (model, tokenizer, corpus, corpus_facts.tsv, prompt sets) built in seconds, once per session."""
    from world.build import build_demo
    from world.config import TINY_ASSETS, TINY_MODEL, TINY_WORLD

    return build_demo(tmp_path_factory.mktemp("tiny-world"), TINY_WORLD, TINY_MODEL, TINY_ASSETS)
