"""Serve LensLab with its caches warmed first: `streamlit run serve.py` (what `./run.sh app` does).

The app itself is app.py; this entry only adds a start-up step, run before the server
accepts its first visitor, that loads the model and computes the default views.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def _lifespan(_app):
    from ui.warmup import warm_up  # imported here, once Streamlit's runtime (and its caches) exist

    await asyncio.to_thread(warm_up)
    yield


app = st.App("app.py", lifespan=_lifespan)
