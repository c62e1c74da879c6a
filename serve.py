"""Serve LensLab with its caches warmed first: `streamlit run serve.py` (what `./run.sh app` does).

The app itself is app.py; this entry adds a start-up step, run before the server accepts its
first visitor, that loads the model and computes the default views. Streamlit's own "you can
now view" line comes before that step ends, so ./run.sh hides it (--logger.hideWelcomeMessage):
this entry prints "ready" once a page has answered, with how long the warm-up took.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import streamlit as st


@asynccontextmanager
async def _lifespan(_app):
    from ui.warmup import announce_when_ready, warm_up  # imported here, once Streamlit's runtime (and its caches) exist

    seconds = await asyncio.to_thread(warm_up)
    ready = asyncio.create_task(announce_when_ready(seconds, print))
    yield
    ready.cancel()


app = st.App("app.py", lifespan=_lifespan)
