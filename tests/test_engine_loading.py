"""Loading never runs a model folder's own code and says what is missing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine import Engine
from engine.errors import ModelLoadError

PLANTED = '''
from pathlib import Path
Path(__file__).with_name("RAN").write_text("the planted code ran")
from transformers import GPT2Config, GPT2LMHeadModel
class PlantedConfig(GPT2Config):
    model_type = "planted"
class PlantedModel(GPT2LMHeadModel):
    config_class = PlantedConfig
'''


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _plant(folder: Path, model_type: str) -> None:
    (folder / "planted.py").write_text(PLANTED, encoding="utf-8")
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["model_type"] = model_type
    config["auto_map"] = {"AutoConfig": "planted.PlantedConfig", "AutoModelForCausalLM": "planted.PlantedModel"}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


@pytest.mark.parametrize("model_type", ["planted", "gpt2"])
def test_a_folder_with_custom_code_is_refused_and_its_code_never_runs(tiny_model_dir, tmp_path, model_type):
    folder = _copy(tiny_model_dir, tmp_path / "custom")
    _plant(folder, model_type)
    with pytest.raises(ModelLoadError, match="never runs a model's own Python code; convert"):
        Engine.load(folder)
    assert not (folder / "RAN").exists()


def test_a_tokenizer_config_with_custom_code_is_refused(tiny_model_dir, tmp_path):
    folder = _copy(tiny_model_dir, tmp_path / "custom-tok")
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["auto_map"] = {"AutoTokenizer": ["planted.PlantedTokenizer", None]}
    path.write_text(json.dumps(config), encoding="utf-8")
    (folder / "planted.py").write_text(PLANTED, encoding="utf-8")
    with pytest.raises(ModelLoadError, match="convert"):
        Engine.load(folder)
    assert not (folder / "RAN").exists()


def test_a_folder_without_a_tokenizer_says_so(tiny_model_dir, tmp_path):
    folder = _copy(tiny_model_dir, tmp_path / "no-tokenizer")
    for path in folder.iterdir():
        if path.name.startswith(("tokenizer", "vocab", "merges", "special_tokens")):
            path.unlink()
    with pytest.raises(ModelLoadError, match="has no tokenizer.*tokenizer.json"):
        Engine.load(folder)
