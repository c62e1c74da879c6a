"""The sidebar's model fetch: a Hub name not yet in the cache is downloaded with a sized progress bar.

Workshop mode and HF_HUB_OFFLINE=1 never download (the page then says how to fetch the model
first). A failed fetch leaves nothing here: loading the model reports the same error on the page.
"""

from __future__ import annotations

import streamlit as st

from engine.errors import ModelLoadError
from engine.hub import fetch, needs_fetch, offline_by_env, plan


FAILED_KEY = "_lenslab_fetch_failed"  # names whose fetch failed in this session: not asked of the Hub again


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def fetch_in_sidebar(model: str, workshop: bool) -> None:
    """Download ``model`` (sidebar caption + progress bar with sizes) when loading it would otherwise do so."""
    failed = st.session_state.setdefault(FAILED_KEY, set())
    if workshop or offline_by_env() or model in failed or not needs_fetch(model):
        return
    try:
        planned = plan(model)
    except ModelLoadError:
        failed.add(model)
        return
    from ui.shell import md_escape  # the shell imports this module; typed names are shown escaped

    files, shown = planned[1], md_escape(model)
    total = sum(f.size for f in files)
    note = st.caption(f"Fetching {shown} from the Hugging Face Hub: {len(files)} files, {_mb(total)} "
                      "(safetensors weights, configs and tokenizer only)")
    bar = st.progress(0.0, text=f"0 of {_mb(total)}")

    def report(done: int, whole: int, name: str) -> None:
        bar.progress(min(1.0, done / max(whole, 1)), text=f"{md_escape(name)}: {_mb(done)} of {_mb(whole)}")

    try:
        fetch(model, progress=report, planned=planned)
    except ModelLoadError:
        failed.add(model)
        note.empty()
        return
    finally:
        bar.empty()
    note.caption(f"Fetched {shown} from the Hugging Face Hub: {len(files)} files, {_mb(total)}")
