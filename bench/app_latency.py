"""Slider move -> chart redrawn, in a real browser: the median over 20 moves of the Impair page's slider.

Run: python bench/app_latency.py [--moves 20] [--model PATH]
Starts `streamlit run app.py` on a free port, drives Debian's Chromium with Playwright
(never `playwright install`), and prints each move's latency and the median (goal: <= 300 ms).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import tempfile
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SLIDER = "intensity_noise"
# The live chart's impaired bars, read from the Plotly graph in the page.
# calcdata is what Plotly computed for the last drawing, so a change means a redraw.
CHART_JS = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.calcdata && g.calcdata.length === 2
      && String(g._fullData[1].name).startsWith('impaired'));
  return gd ? JSON.stringify(gd.calcdata[1].map(c => +c.s.toFixed(6))) : null;
}"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(script: str = "app.py", extra: list[str] | None = None, env: dict[str, str] | None = None,
                     timeout: float = 90.0) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """Start `streamlit run script` headless on a free port; yield (URL, process, seconds until it
    reported ready); always stop it."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           *(extra or [])]
    start = time.monotonic()
    # A file, not a pipe: a long-running server's log would fill a pipe nobody reads and stall it.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() - start > timeout:
                    log.seek(0)
                    raise RuntimeError(f"{script} did not start: {log.read().decode()[-2000:]}")
                time.sleep(0.2)
        yield url, proc, time.monotonic() - start
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextlib.contextmanager
def running_app(env: dict[str, str] | None = None, timeout: float = 90.0) -> Iterator[str]:
    """`streamlit run app.py` headless on a free port; yield its URL; always stop it."""
    with streamlit_server("app.py", env=env, timeout=timeout) as (url, _, _):
        yield url


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """A Playwright page in headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def chart_signature(page) -> str | None:
    """The impaired bars of the live chart as a string (None while it is not drawn)."""
    return page.evaluate(CHART_JS)


def open_impair(page, url: str, query: str = "", timeout_ms: int = 120_000) -> str:
    """Load the Impair page and wait for its live chart; returns the chart's signature."""
    page.goto(f"{url}/impair{query}")
    page.wait_for_function(f"({CHART_JS})() !== null", timeout=timeout_ms)
    return chart_signature(page)


def slider_track(page, key: str = SLIDER):
    """The bounding box of the intensity slider's track."""
    track = page.locator(f".st-key-{key} [data-testid='stSlider'] [role='group'] > div").first
    track.wait_for()
    return track.bounding_box()


def move_slider(page, fraction: float, before: str, key: str = SLIDER, timeout_ms: int = 30_000) -> float:
    """Click the slider's track at ``fraction`` of its width; seconds until the chart shows new bars."""
    box = slider_track(page, key)
    x, y = box["x"] + fraction * box["width"], box["y"] + box["height"] / 2
    start = time.perf_counter()
    page.mouse.click(x, y)
    page.wait_for_function(f"(prev) => {{ const s = ({CHART_JS})(); return s !== null && s !== prev; }}",
                           arg=before, timeout=timeout_ms, polling="raf")
    return time.perf_counter() - start


def wait_idle(page, settle_ms: int = 300, timeout_ms: int = 30_000) -> None:
    """Wait until the app has finished its run (no "Running" status), then a little more.

    Each move then starts from a quiet page, as a person's next move would.
    """
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')",
                           timeout=timeout_ms)
    page.wait_for_timeout(settle_ms)


def measure(url: str, moves: int) -> list[float]:
    """Latencies of ``moves`` slider moves (after one warm-up move), each from an idle page."""
    with browser_page() as page:
        sig = open_impair(page, url)
        fractions = [0.15 + 0.7 * ((i * 7) % 20) / 19 for i in range(moves + 1)]
        out = []
        for i, f in enumerate(fractions):
            wait_idle(page)
            seconds = move_slider(page, f, sig)
            sig = chart_signature(page)
            if i:
                out.append(seconds)
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--model", default=None, help="model folder (default: the demo)")
    args = parser.parse_args()
    env = {"LENSLAB_MODEL": str(Path(args.model).resolve())} if args.model else {}
    with running_app(env) as url:
        ms = [1000 * s for s in measure(url, args.moves)]
    print("slider move -> chart redrawn (ms): " + json.dumps([round(m) for m in ms]))
    print(f"median over {len(ms)} moves: {statistics.median(ms):.0f} ms "
          f"(min {min(ms):.0f}, max {max(ms):.0f}; goal <= 300 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
