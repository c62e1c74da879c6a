"""Fill the shared caches when the server starts, so the first visitor's charts come from warm caches.

The model, the prompt sets and clusters, the lenses, and the default view of the Impair
and Lens pages (the views a workshop opens on) are computed once, before the server
says it is ready; everything here is what the first page run would compute anyway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

from cluster.plots import plot_next_token_probs
from lens.plots import plot_head_grid, plot_logit_lens
from ui.clusters import shipped_clusters
from ui.config import DEMO_NAME, default_choice, default_lens_folder, resolve_model, workshop_lens_folder, workshop_mode
from ui.impair import SLIDERS, TOP_K, ImpairSetup, next_token_probs
from ui.lens import cached_heads, cached_logit_lens, lens_stamp, load_lens_set
from ui.shell import FALLBACK_PROMPT, keyword_prompts, load_engine, prompt_topic, target_id, token_labels

log = logging.getLogger(__name__)


def warm_up() -> float:
    """Load and compute the default views once; returns the seconds it took (errors are logged, not raised:
    a page shows them to whoever opens it)."""
    start = time.perf_counter()
    # The caches are filled outside any page run, which Streamlit's script-run context logs a warning for on
    # every call; that is expected here, so the teacher's terminal shows only "ready".
    quiet = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        _warm()
    except Exception:  # noqa: BLE001 - a cold cache is only slower; the page reports the real error
        log.exception("warm-up stopped early")
    finally:
        quiet.setLevel(level)
    seconds = time.perf_counter() - start
    log.info("warm-up done in %.1f s", seconds)
    return seconds


def _warm() -> None:
    model = resolve_model(DEMO_NAME)
    engine = load_engine(model)
    first = default_choice()
    prompt, target = (first.prompt, first.answer) if first else (FALLBACK_PROMPT, None)
    keyword_prompts()
    token_labels(model, prompt)
    clusters, _ = shipped_clusters(engine)
    if clusters:
        topic = prompt_topic(prompt)
        cluster = next((c for c in clusters.values() if topic and c.topic == topic), next(iter(clusters.values())))
        _, _, default, _ = SLIDERS["noise"]
        setup = ImpairSetup(cluster, "noise", "all", 8, 0, None, SLIDERS["noise"][1])
        probs = next_token_probs(model, prompt, setup.interventions(default), 8, TOP_K, target_id(engine, target, prompt))
        plot_next_token_probs(probs, "warm-up")
    plot_logit_lens(cached_logit_lens(model, prompt, target))
    folder = workshop_lens_folder(model) if workshop_mode() else default_lens_folder(model)
    stamp = lens_stamp(folder)
    if stamp is not None:
        load_lens_set(model, folder, stamp)
        heads = cached_heads(model, folder, stamp, prompt, target)
        plot_head_grid(heads, len(heads.labels) - 1)


def local_url() -> str:
    """Where this server listens, as seen from this machine."""
    from streamlit import config

    address = config.get_option("server.address") or "localhost"
    return f"http://{address}:{config.get_option('server.port')}"


async def first_page_answers(url: str, page: str = "impair", timeout: float = 120.0) -> float:
    """Seconds until a session opened on ``page`` (over Streamlit's websocket) finished its first run."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    start = time.perf_counter()
    async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=None, open_timeout=timeout) as ws:
        msg = BackMsg()
        msg.rerun_script.page_name = page
        await ws.send(msg.SerializeToString())
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await asyncio.wait_for(ws.recv(), timeout))
            if reply.WhichOneof("type") == "script_finished":
                return time.perf_counter() - start


async def announce_when_ready(warm_s: float, say: Callable[[str], None], tries: int = 600) -> None:
    """Once the server listens and a first page run has finished, ``say`` that it is ready (and the warm-up time)."""
    url = local_url()
    for _ in range(tries):
        try:
            answered = await first_page_answers(url)
        except (OSError, asyncio.TimeoutError, ValueError):
            await asyncio.sleep(0.2)  # not listening yet
            continue
        say(f"\n  LensLab is ready: {url}  (warm-up {warm_s:.1f} s; the Impair page answered in {answered:.2f} s)\n")
        return
    log.error("the app did not answer its own first request; see the errors above")
