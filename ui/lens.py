"""The Lens page: the logit-lens heatmap, the Attention Lens grid with a chosen head, and
training Attention Lenses from the app for any model, with progress: the layers wanted first,
the others later into the same lenses, and a stopped training continues from its checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from lens import (HeadLensResult, LensSet, LogitLensResult, attention_pattern, decode_heads, decode_logit_lens,
                  load_lenses)
from lens.data import read_texts
from lens.decode import PatternResult
from lens.extend import add_layers, stopped_at, training_folder
from lens.header import HEADER_FILE
from lens.plots import plot_attention_pattern, plot_head_grid, plot_head_topk, plot_logit_lens
from promptsets.paths import DEMO_DIR
from ui.links import limits, options
from ui.commands import lens_decode, lens_train, logit_lens
from ui.shell import CACHE_TTL, attempt, cli_snippet, load_engine, progress_bar, shared_figure, show_figure

TOP_K = 5
LOGIT_CAPTION = ("Each cell is one layer (row) at one token position (column): the token the residual stream "
                 "predicts next if decoded there; colour = that token's probability; hover for the top 5 and the target.")
GRID_CAPTION = ("Each cell is one attention head (column) of one layer (row) at the chosen position: the top token its "
                "write decodes to; colour = the target's probability (or the top token's); click a cell to pick that head.")
TOPK_CAPTION = "Each bar is one of the chosen head's top tokens; bar length = probability; dashed line = the target."
PATTERN_CAPTION = "Each cell is how much a query position (row) attends to a key position (column); colour = attention weight."
DEFAULT_DATA = DEMO_DIR / "corpus.txt"
CHECKPOINT_EVERY = 25  # steps: a training stopped from the browser loses at most this many
CLICKED = "_lens_clicked"


def lens_stamp(folder: str) -> float | None:
    """The lens header's modification time (a cache key that changes on retraining), None if there are no lenses."""
    path = Path(folder) / HEADER_FILE
    return path.stat().st_mtime if path.is_file() else None


@st.cache_resource(max_entries=4, show_spinner="Loading the lenses…")
def load_lens_set(model: str, folder: str, stamp: float) -> LensSet:
    """The trained lenses of ``folder`` for ``model`` (LensMismatch if made for another model)."""
    return load_lenses(Path(folder), load_engine(model))


@st.cache_data(max_entries=128, ttl=CACHE_TTL, show_spinner=False)
def cached_logit_lens(model: str, prompt: str, target: str | None) -> LogitLensResult:
    """Top-5 logit-lens tokens per layer and position (small arrays)."""
    return decode_logit_lens(load_engine(model), prompt, k=TOP_K, target=target)


@st.cache_data(max_entries=128, ttl=CACHE_TTL, show_spinner="Decoding every head…")
def cached_heads(model: str, folder: str, stamp: float, prompt: str, target: str | None) -> HeadLensResult:
    """Top-5 tokens of every head at every position through the trained lenses (small arrays)."""
    return decode_heads(load_engine(model), load_lens_set(model, folder, stamp), prompt, k=TOP_K, target=target)


@st.cache_data(max_entries=128, ttl=CACHE_TTL, show_spinner=False)
def cached_pattern(model: str, prompt: str, layer: int) -> PatternResult:
    """One layer's attention pattern ``(n_heads, pos, pos)``, so moving the position slider reruns no model."""
    return attention_pattern(load_engine(model), prompt, layer)


def logit_lens_panel(model: str, prompt: str, target: str | None) -> None:
    """The layer x position heatmap with its table."""
    result = attempt(cached_logit_lens, model, prompt, target)
    if result is None:
        return
    n_pos = result.top_ids.shape[1]
    table = pd.DataFrame([
        {"layer": layer, "pos": p, "token": result.tokens[p], "top1": result.top_strs[i, p, 0],
         "p_top1": result.top_probs[i, p, 0],
         "p_target": None if result.target_prob is None else result.target_prob[i, p]}
        for i, layer in enumerate(result.layers) for p in range(n_pos)])
    show_figure(plot_logit_lens(result), "logit-lens", LOGIT_CAPTION, key="logit_lens", table=table)
    cli_snippet(logit_lens(model, prompt, target))


@st.fragment
def head_panel(model: str, folder: str, stamp: float, prompt: str, target: str | None) -> None:
    """Position slider, the layer x head grid, and the chosen head's top-k and attention pattern; reruns alone."""
    result = attempt(cached_heads, model, folder, stamp, prompt, target)
    if result is None:
        return
    labels = result.labels
    c1, c2 = st.columns([3, 1])
    # Positions, layers and heads are the prompt's and the model's: their rules are loose, the widgets narrow them.
    label = c1.select_slider("Position", labels, value=labels[-1], key="lens_pos", bind="query-params")
    top = c2.toggle("Colour by the top token", key="lens_top", bind="query-params", disabled=target is None,
                    help="off: colour = the target's probability (sidebar); on: the top token's own probability")
    pos = labels.index(label)
    grid = shared_figure(("head-grid", model, folder, stamp, prompt, target, pos, top),
                         lambda: plot_head_grid(result, pos, by_target=not top))
    event = show_figure(grid, "head-grid", GRID_CAPTION, key="head_grid", selectable=True)
    pick_from_grid(event, result.layers, result.n_heads)
    c1, c2 = st.columns(2)
    layer = c1.selectbox("Layer", result.layers, index=len(result.layers) - 1, key="lens_layer", bind="query-params")
    head = c2.selectbox("Head", range(result.n_heads), key="lens_head", bind="query-params")
    c1, c2 = st.columns(2)
    with c1:
        topk = shared_figure(("head-topk", model, folder, stamp, prompt, target, layer, head, pos),
                             lambda: plot_head_topk(result, layer, head, pos))
        show_figure(topk, f"head-L{layer}H{head}-topk", TOPK_CAPTION, key="head_topk")
    with c2:
        pattern = attempt(cached_pattern, model, prompt, layer)
        if pattern is not None:
            fig = shared_figure(("pattern", model, prompt, layer, head), lambda: plot_attention_pattern(pattern, head))
            show_figure(fig, f"pattern-L{layer}H{head}", PATTERN_CAPTION, key="pattern")
    cli_snippet(lens_decode(model, folder, prompt, target, pos))


def clicked_head(event: Any, layers: tuple[int, ...], n_heads: int) -> tuple[int, int] | None:
    """(layer, head) of the grid cell a click selected ("L2", "H1"), or None for no click."""
    points = (event or {}).get("selection", {}).get("points", [])
    if not points:
        return None
    x, y = str(points[0].get("x", "")), str(points[0].get("y", ""))
    try:
        layer, head = int(y.removeprefix("L")), int(x.removeprefix("H"))
    except ValueError:
        return None
    return (layer, head) if layer in layers and 0 <= head < n_heads else None


def pick_from_grid(event: Any, layers: tuple[int, ...], n_heads: int) -> None:
    """A new click on the grid chooses that head in the Layer and Head boxes (and so in the URL)."""
    picked = clicked_head(event, layers, n_heads)
    if picked is not None and picked != st.session_state.get(CLICKED):
        st.session_state["lens_layer"], st.session_state["lens_head"] = picked
    st.session_state[CLICKED] = picked


def train_panel(model: str, folder: str, n_layers: int, have: tuple[int, ...] = ()) -> bool:
    """Kind, steps, data and the layers to train first, and a "Train lenses" button; True once lenses were
    trained in this run. Layers join the lenses already in ``folder``; a stopped training continues."""
    c1, c2, c3 = st.columns([1, 1, 3])
    kind = c1.selectbox("Lens kind", options("train_kind"), key="train_kind", bind="query-params",
                        help="compact: a d_model x d_model translator per head, then the model's unembedding; full: the original per-head linear map to the vocabulary")
    steps = int(c2.number_input("Steps", *limits("train_steps"), 400, key="train_steps", bind="query-params"))
    data = c3.text_input("Training text (one document per line)", value=str(DEFAULT_DATA), key="train_data")
    missing = [layer for layer in range(n_layers) if layer not in have]
    layers = st.multiselect("Layers to train now", missing, default=missing, key="train_layers",
                            help="start with the layers you want to see; train the others later and they join "
                                 "the same lenses, exactly as if all were trained together")
    cli_snippet(_train_command(model, folder, kind, steps, data, layers, n_layers, bool(have)))
    stopped = stopped_at(training_folder(Path(folder), layers)) if layers else None
    if stopped is not None:
        st.info(f"A stopped training of layers {list(stopped.layers)} ({stopped.kind}, {stopped.steps} steps) reached "
                f"step {stopped.step}: Train with those settings continues from there.", icon=":material/replay:")
    if not st.button("Train lenses", key="train_go", type="primary"):
        return False
    if not layers:
        st.error("Pick at least one layer to train.", icon=":material/error:")
        return False
    texts = attempt(_read, Path(data))
    if texts is None:
        return False
    with progress_bar("Training lenses…", "Training lenses: step {done}/{total}") as tick:
        lenses = attempt(add_layers, load_engine(model), texts, Path(folder), layers, kind, steps, progress=tick,
                         checkpoint_every=CHECKPOINT_EVERY, data_name=Path(data).name)
    return lenses is not None


def _train_command(model: str, folder: str, kind: str, steps: int, data: str, layers: list[int], n_layers: int,
                   add: bool) -> str:
    """The command line that trains what the panel trains: fixed steps, the chosen layers."""
    command = lens_train(model, folder, kind, steps, data) + " --fixed"
    if layers and len(layers) < n_layers:
        command += f" --layers {','.join(map(str, layers))}"
    return command + (" --add" if add else "")


def _read(path: Path) -> list[str]:
    """The training texts; a missing file is the user's to fix."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; give a text file with one document per line")
    return read_texts(path)
