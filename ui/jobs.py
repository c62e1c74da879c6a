"""Heavy jobs in a workshop: one at a time per server, the rest wait in line and see their place.

Cluster search, impairment and robustness curves, the memory heatmap and cluster descriptions
each keep a core busy for seconds; with a room of attendees on one CPU, two at once would
make every live slider wait. Outside a workshop a job starts at once (one user, one machine).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import streamlit as st

from ui.config import workshop_mode
from ui.shell import md_escape

WAIT_S = 0.5  # how often a waiting job redraws its place in line


class JobQueue:
    """A first-come, first-served line: one holder at a time; ``turn`` reports each waiter's place."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: list[object] = []

    def __len__(self) -> int:
        with self._cond:
            return len(self._line)

    @contextmanager
    def turn(self, on_wait: Callable[[int], None] = lambda ahead: None) -> Iterator[None]:
        """Wait until every job that came earlier has ended; ``on_wait(jobs ahead)`` while waiting."""
        me = object()
        with self._cond:
            self._line.append(me)
        try:
            while True:
                with self._cond:
                    ahead = self._line.index(me)
                    if ahead == 0:
                        break
                on_wait(ahead)  # outside the lock: it draws, and a rerun may end this script here
                with self._cond:
                    if self._line.index(me) > 0:
                        self._cond.wait(WAIT_S)
            yield
        finally:
            with self._cond:
                self._line.remove(me)
                self._cond.notify_all()


@st.cache_resource
def job_queue() -> JobQueue:
    """The server's one line of heavy jobs, shared by every session."""
    return JobQueue()


@contextmanager
def heavy_job(what: str) -> Iterator[None]:
    """Run the block now, or in a workshop when its turn comes, showing its place in line meanwhile."""
    if not workshop_mode():
        yield
        return
    note = st.empty()

    def waiting(ahead: int) -> None:
        note.info(md_escape(f"Queue position {ahead + 1}: {ahead} job(s) ahead of yours on this shared server; "
                            f"{what} starts when they end (one heavy job at a time)."), icon=":material/hourglass:")

    with job_queue().turn(waiting):
        note.empty()
        yield
