"""Can one small server carry a workshop room? Each live control next to a trivial app, then N participants.

Run: python bench/workshop.py [--moves 12] [--participants 1,5,10,20] [--seconds 60] [--no-settings]
     python bench/workshop.py --hall 200 (only part 4)

1. Table (real headless Chromium, one control at a time): for the Impair slider, the
   Memory scale and the Lens position, the server's CPU seconds per move, press -> chart
   redrawn and press -> page idle, each next to a one-slider Streamlit + Plotly app
   (bench/trivial_app.py) measured in the same run, with the ratios.
2. Settings: the Impair slider's server CPU per move under Streamlit's defaults and
   with each setting of .streamlit/config.toml, so each is kept only if it helps.
3. Room: N simulated participants (bench/ws_client.py: Streamlit's websocket protocol,
   no browser) each move the Impair slider every 2 s; median and p95 latency (move ->
   run finished), moves lost (no reply in 10 s), the server's peak RSS; and the first
   visitor's first chart after the server reports ready (LensLab served by serve.py,
   which warms its caches before it reports ready, next to the trivial app).
4. Lecture hall (--hall N): first the same N participants on the trivial app (the floor any
   Streamlit page pays on this machine), then N participants on a workshop server, spread over every live
   control in turn (Impair intensity, Memory scale, Lens position, Patch direction; the last when that page
   exists), each moving its control every 2 s; median and p95 move -> run finished, lost
   moves, server CPU per move and peak RSS, overall and per control.
Ratios are what count: the machine is shared, so absolute times move with its load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.append(str(Path(__file__).resolve().parent))  # after ROOT: bench/ has engine.py, lens.py, ...

from app_latency import browser_page, slider_track, streamlit_server  # noqa: E402
from ws_client import Participant  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
DEFAULTS = ["--runner.postScriptGC", "true", "--server.fileWatcherType", "auto"]
MEMORY_VIEW = ("?prompt=" + quote("The founder of Bridirkex was born in") + "&target=" + quote(" Peicenton")
               + "&memory=" + quote(" Krothux"))
# name -> (script, page path and link, slider key)
CONTROLS = {
    "trivial one-slider app": ("bench/trivial_app.py", "/", "value"),
    "Impair intensity slider": ("serve.py", "/impair", "intensity_noise"),
    "Memory scale slider": ("serve.py", "/memory" + MEMORY_VIEW, "mem_scale"),
    "Lens position slider": ("serve.py", "/lens?prompt=" + quote("The founder of Pothasix was born in"), "lens_pos"),
}
# Every Plotly chart's data, so any redraw changes it.
CHARTS_JS = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')].filter(g => g.data);
  if (!plots.length) return null;
  const norm = v => (v && typeof v === 'object' && !Array.isArray(v) && v.length !== undefined) ? Array.from(v) : v;
  return JSON.stringify(plots.map(g => g.data.map(t => [norm(t.x), norm(t.y), norm(t.z), t.text])));
}"""
# Where each move clicks on the slider's track: neighbours far apart, so even the Lens
# position slider (one step per token) lands on a new value every time.
FRACTIONS = (0.9, 0.1, 0.6, 0.2, 0.8, 0.3, 0.95, 0.05, 0.7, 0.4, 0.85, 0.15)
IDLE_JS = "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    """The process's resident memory in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def server(script: str, extra: list[str] | None = None, timeout: float = 600.0) -> Iterator[tuple[str, int, float]]:
    """`streamlit run script` on a free port; yields (url, pid, seconds until it reported ready)."""
    with streamlit_server(script, extra, timeout=timeout) as (url, proc, ready):
        yield url, proc.pid, ready


def click_slider(page, key: str, fraction: float) -> None:
    page.locator(f".st-key-{key}").first.scroll_into_view_if_needed()
    box = slider_track(page, key)
    page.mouse.click(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)


def browser_moves(url: str, pid: int, path: str, key: str, moves: int) -> dict[str, float]:
    """Median press -> chart and press -> idle (ms) over ``moves`` slider moves, and server CPU ms per move."""
    with browser_page() as page:
        page.goto(url + path)
        page.wait_for_function(f"({CHARTS_JS})() !== null", timeout=300_000)
        page.wait_for_function(IDLE_JS, timeout=300_000)
        fractions = [FRACTIONS[i % len(FRACTIONS)] for i in range(moves + 1)]
        to_chart, to_idle, cpu = [], [], 0.0
        for i, fraction in enumerate(fractions):
            page.wait_for_timeout(300)
            before, cpu0 = page.evaluate(CHARTS_JS), cpu_seconds(pid)
            start = time.perf_counter()
            click_slider(page, key, fraction)
            page.wait_for_function(f"(prev) => {{ const s = ({CHARTS_JS})(); return s !== null && s !== prev; }}",
                                   arg=before, timeout=60_000, polling="raf")
            chart = time.perf_counter() - start
            page.wait_for_function(IDLE_JS, timeout=60_000, polling="raf")
            idle = time.perf_counter() - start
            page.wait_for_timeout(200)  # let the server finish what it does after the run
            if i:  # the first move warms the path
                to_chart.append(chart)
                to_idle.append(idle)
                cpu += cpu_seconds(pid) - cpu0
    return {"chart": 1000 * statistics.median(to_chart), "idle": 1000 * statistics.median(to_idle),
            "cpu": 1000 * cpu / moves}


def table(moves: int) -> None:
    """Part 1: each live control next to the trivial app."""
    rows = {}
    for name, (script, path, key) in CONTROLS.items():
        with server(script) as (url, pid, _):
            rows[name] = browser_moves(url, pid, path, key, moves)
    floor = rows["trivial one-slider app"]
    print(f"\nPer move, median of {moves} moves in headless Chromium (ratio to the trivial app in brackets)")
    print(f"{'control':<26}{'server CPU ms':>20}{'press->chart ms':>20}{'press->idle ms':>20}")
    for name, r in rows.items():
        cells = "".join(f"{r[m]:>12.0f} (x{r[m] / floor[m]:.2f})" for m in ("cpu", "chart", "idle"))
        print(f"{name:<26}{cells}")


async def _ws_moves(url: str, pid: int, moves: int) -> tuple[float, float]:
    p = Participant(url, "impair")
    await p.open()
    done, cpu = [], 0.0
    for i in range(moves + 1):
        await asyncio.sleep(0.3)
        cpu0 = cpu_seconds(pid)
        reply = await p.move(0.5 + (i % 19) * 0.5)
        await asyncio.sleep(0.2)
        if i:
            done.append(reply.done_s)
            cpu += cpu_seconds(pid) - cpu0
    await p.close()
    return 1000 * cpu / moves, 1000 * statistics.median(done)


def settings(moves: int) -> None:
    """Part 2: the Impair slider's server CPU per move with and without each checked-in setting."""
    variants = {
        "Streamlit defaults (GC after each run, file watcher on)": DEFAULTS,
        "only runner.postScriptGC = false": ["--runner.postScriptGC", "false", "--server.fileWatcherType", "auto"],
        "only server.fileWatcherType = none": ["--runner.postScriptGC", "true", "--server.fileWatcherType", "none"],
        "checked-in .streamlit/config.toml": [],
    }
    print(f"\nImpair slider, {moves} moves over the websocket: server CPU and move -> run finished (median)")
    base = None
    for name, extra in variants.items():
        with server("serve.py", extra) as (url, pid, _):
            cpu, done = asyncio.run(_ws_moves(url, pid, moves))
        base = base or cpu
        print(f"{name:<58}{cpu:>8.0f} ms CPU (x{cpu / base:.2f}){done:>8.0f} ms to finish")


async def _room(url: str, pid: int, n: int, seconds: float) -> dict[str, float]:
    people = [Participant(url, "impair") for _ in range(n)]
    for p in people:
        await p.open()
    latencies: list[float] = []
    lost = 0
    peak = rss_mb(pid)
    cpu0 = cpu_seconds(pid)

    async def person(i: int, p: Participant) -> None:
        nonlocal lost
        rng = random.Random(i)
        start = time.perf_counter() + 2.0 * i / n
        k = 0
        while (due := start + 2.0 * k) < t_end:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                latencies.append((await p.move(round(rng.uniform(0.1, 9.9), 1), timeout=10.0)).done_s)
            except (TimeoutError, asyncio.TimeoutError):
                lost += 1
                return
            k += 1

    async def watch() -> None:
        nonlocal peak
        while time.perf_counter() < t_end + 10:
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.5)

    t_end = time.perf_counter() + seconds
    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(person(i, p) for i, p in enumerate(people)))
    watcher.cancel()
    cpu = cpu_seconds(pid) - cpu0
    for p in people:
        await p.close()
    ms = sorted(1000 * s for s in latencies)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))] if ms else float("nan")
    return {"moves": len(ms), "median": statistics.median(ms) if ms else float("nan"), "p95": p95, "lost": lost,
            "rss": peak, "cpu": 1000 * cpu / max(1, len(ms))}


async def _first_chart(url: str, page: str) -> float:
    p = Participant(url, page)
    reply = await p.open()
    await p.close()
    return reply.chart_s if reply.chart_s is not None else reply.done_s


def room(counts: list[int], seconds: float) -> None:
    """Part 3: the first visitor's first chart, then N participants moving every 2 s."""
    with server("bench/trivial_app.py") as (url, _, _):
        floor = asyncio.run(_first_chart(url, ""))
    with server("serve.py") as (url, pid, ready):
        first = asyncio.run(_first_chart(url, "impair"))
        print(f"\nFirst visitor: Impair chart {first:.2f} s after the server reported ready "
              f"(start-up with warm-up {ready:.1f} s); trivial app {floor:.2f} s (x{first / floor:.1f})")
        print(f"\n{'participants':>12}{'moves':>7}{'median ms':>11}{'p95 ms':>9}{'lost':>6}{'CPU ms/move':>13}"
              f"{'peak RSS MB':>13}   (websocket clients, a move every 2 s for {seconds:g} s)")
        for n in counts:
            r = asyncio.run(_room(url, pid, n, seconds))
            print(f"{n:>12}{r['moves']:>7}{r['median']:>11.0f}{r['p95']:>9.0f}{r['lost']:>6}{r['cpu']:>13.0f}"
                  f"{r['rss']:>13.0f}")


# name -> (page, query string, slider key, a random value for a move)
HALL = {
    "Impair intensity": ("impair", "", "intensity_noise", lambda rng: round(rng.uniform(0.1, 9.9), 1)),
    "Memory scale": ("memory", MEMORY_VIEW[1:], "mem_scale", lambda rng: rng.randrange(1, 31) / 2),
    "Lens position": ("lens", "prompt=" + quote("The founder of Pothasix was born in"), "lens_pos",
                      lambda rng: rng.randrange(0, 64)),
}
if (ROOT / "app_pages" / "patch.py").is_file():
    HALL["Patch direction"] = ("patch", "", "patch_dir", lambda rng: rng.randrange(0, 2))


# The floor: the same hall on the one-slider app, so the figures say what any Streamlit page costs here.
TRIVIAL_HALL = {"trivial one-slider app": ("", "", "value", lambda rng: round(rng.uniform(0.1, 9.9), 1))}


async def _hall(url: str, pid: int, n: int, seconds: float, controls: dict = HALL) -> dict[str, dict[str, float]]:
    names = [list(controls)[i % len(controls)] for i in range(n)]
    people = []
    for name in names:
        page, query, key, _ = controls[name]
        people.append(Participant(url, page, query, key))
        await people[-1].open()
    done: dict[str, list[float]] = {name: [] for name in controls}
    lost = dict.fromkeys(controls, 0)
    peak, cpu0 = rss_mb(pid), cpu_seconds(pid)
    t_end = time.perf_counter() + seconds

    async def person(i: int, p: Participant) -> None:
        rng, name = random.Random(i), names[i]
        start, k = time.perf_counter() + 2.0 * i / n, 0
        while (due := start + 2.0 * k) < t_end:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            try:
                done[name].append((await p.move(controls[name][3](rng), timeout=10.0)).done_s)
            except (TimeoutError, asyncio.TimeoutError):
                lost[name] += 1
                return
            k += 1

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(person(i, p) for i, p in enumerate(people)))
    watcher.cancel()
    cpu = cpu_seconds(pid) - cpu0
    for p in people:
        await p.close()
    rows = {name: _stats(done[name], lost[name]) for name in controls}
    rows["all controls"] = _stats([s for v in done.values() for s in v], sum(lost.values()))
    rows["all controls"].update(cpu=1000 * cpu / max(1, rows["all controls"]["moves"]), rss=peak)
    return rows


def _stats(seconds: list[float], lost: int) -> dict[str, float]:
    ms = sorted(1000 * s for s in seconds)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))] if ms else float("nan")
    return {"moves": len(ms), "median": statistics.median(ms) if ms else float("nan"), "p95": p95, "lost": lost}


async def _control_cpu(url: str, pid: int, moves: int) -> dict[str, float]:
    """Server CPU ms per move of each control alone (one participant, ``moves`` moves, the first not counted)."""
    out = {}
    for name, (page, query, key, value) in HALL.items():
        p, rng = Participant(url, page, query, key), random.Random(0)
        await p.open()
        cpu = 0.0
        for i in range(moves + 1):
            await asyncio.sleep(0.3)
            cpu0 = cpu_seconds(pid)
            await p.move(value(rng))
            await asyncio.sleep(0.2)  # what the server does after the run
            cpu += (cpu_seconds(pid) - cpu0) if i else 0.0
        await p.close()
        out[name] = 1000 * cpu / moves
    return out


def _print_hall(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}")
    print(f"{'control':<24}{'moves':>7}{'median ms':>11}{'p95 ms':>9}{'lost':>6}")
    for name, r in rows.items():
        print(f"{name:<24}{r['moves']:>7}{r['median']:>11.0f}{r['p95']:>9.0f}{r['lost']:>6}")
    whole = rows["all controls"]
    print(f"server CPU per move {whole['cpu']:.0f} ms; peak RSS {whole['rss']:.0f} MB")


def hall(n: int, seconds: float, moves: int = 20) -> None:
    """Part 4: the same hall on the trivial app (the floor), each control's CPU per move alone, then N
    participants on a workshop server, every live control in turn, a move every 2 s."""
    from app_latency import streamlit_server

    goals = "goals: median <= 250 ms, p95 <= 1000 ms, 0 lost"
    with streamlit_server("bench/trivial_app.py", timeout=600) as (url, proc, _):
        floor = asyncio.run(_hall(url, proc.pid, n, seconds, TRIVIAL_HALL))
    _print_hall(f"Floor: {n} participants on the trivial one-slider app, a move every 2 s for {seconds:g} s", floor)
    with streamlit_server("serve.py", env={"LENSLAB_WORKSHOP": "1"}, timeout=600) as (url, proc, _):
        alone = asyncio.run(_control_cpu(url, proc.pid, moves))
        print(f"\nServer CPU per move, one participant, {moves} moves: "
              + ", ".join(f"{name} {ms:.0f} ms" for name, ms in alone.items()))
        rows = asyncio.run(_hall(url, proc.pid, n, seconds))
    _print_hall(f"Lecture hall: {n} participants on one workshop server, a move every 2 s for {seconds:g} s "
                f"({goals})", rows)
    whole, base = rows["all controls"], floor["all controls"]
    meets = whole["median"] <= 250 and whole["p95"] <= 1000 and whole["lost"] == 0
    floor_meets = base["median"] <= 250 and base["p95"] <= 1000 and base["lost"] == 0
    print(f"\nLensLab against the floor: median x{whole['median'] / base['median']:.2f}, "
          f"CPU per move x{whole['cpu'] / base['cpu']:.2f}")
    print(f"goals met: LensLab {meets}; the trivial app {floor_meets}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=12, help="slider moves per control")
    parser.add_argument("--participants", default="1,5,10,20", help="comma list of room sizes")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each room run")
    parser.add_argument("--no-settings", action="store_true", help="skip the per-setting comparison")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium table")
    parser.add_argument("--hall", type=int, default=0, help="run only the lecture hall with this many participants")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at start")
    if args.hall:
        hall(args.hall, args.seconds, args.moves)
        load = os.getloadavg()
        print(f"\nload average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end")
        return 0
    if not args.no_browser:
        table(args.moves)
    if not args.no_settings:
        settings(args.moves)
    room([int(n) for n in args.participants.split(",")], args.seconds)
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
