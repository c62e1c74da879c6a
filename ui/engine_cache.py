"""The one shared Engine per model, loaded once for every session."""

from __future__ import annotations

import streamlit as st
import torch

from engine import Engine
from ui.config import app_device, app_dtype, torch_threads


@st.cache_resource(max_entries=3, show_spinner="Loading the model…")
def load_engine(model: str) -> Engine:
    """``Engine.load(model)`` on the app's device and dtype, cached across sessions.

    ModelLoadError propagates (and is not cached).
    """
    torch.set_num_threads(torch_threads())
    return Engine.load(model, device=app_device(), dtype=app_dtype())
