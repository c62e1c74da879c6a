"""Train Attention Lenses from the app, with progress, when a model has none."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from lens import KINDS, train_lenses
from lens.data import read_texts
from ui.commands import lens_train
from ui.shell import attempt, cli_snippet, load_engine
from world.paths import DEMO_DIR

DEFAULT_DATA = DEMO_DIR / "corpus.txt"


def train_panel(model: str, folder: str) -> bool:
    """Kind, steps and data, and a "Train lenses" button; True once lenses were trained in this run."""
    c1, c2, c3 = st.columns([1, 1, 3])
    kind = c1.selectbox("Lens kind", KINDS, key="train_kind", bind="query-params",
                        help="compact: a d_model x d_model translator per head, then the model's unembedding; full: the original per-head linear map to the vocabulary")
    steps = int(c2.number_input("Steps", 1, 20_000, 400, key="train_steps", bind="query-params"))
    data = c3.text_input("Training text (one document per line)", value=str(DEFAULT_DATA), key="train_data")
    cli_snippet(lens_train(model, folder, kind, steps, data))
    if not st.button("Train lenses", key="train_go", type="primary"):
        return False
    texts = attempt(_read, Path(data))
    if texts is None:
        return False
    bar = st.progress(0.0, text="Training lenses…")
    lenses = attempt(train_lenses, load_engine(model), texts, Path(folder), kind, steps=steps,
                     progress=lambda done, total: bar.progress(done / total, text=f"Training lenses: step {done}/{total}"))
    bar.empty()
    return lenses is not None


def _read(path: Path) -> list[str]:
    """The training texts; a missing file is the user's to fix."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; give a text file with one document per line")
    return read_texts(path)
