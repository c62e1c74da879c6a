"""Heavy jobs in a workshop run one at a time, in arrival order, and a waiting one sees its place."""

from __future__ import annotations

import threading
import time

from ui.jobs import JobQueue


def test_jobs_never_overlap_and_run_in_arrival_order():
    line = JobQueue()
    running, overlaps, order, seen = [], [], [], {}

    def job(i: int) -> None:
        with line.turn(lambda ahead: seen.setdefault(i, ahead)):
            running.append(i)
            if len(running) > 1:
                overlaps.append(tuple(running))
            order.append(i)
            time.sleep(0.05)
            running.remove(i)

    threads = []
    for i in range(4):
        threads.append(threading.Thread(target=job, args=(i,)))
        threads[-1].start()
        time.sleep(0.01)  # arrive in order 0, 1, 2, 3
    for t in threads:
        t.join(10)
    assert not overlaps and order == [0, 1, 2, 3]
    assert seen.get(3) == 3, "the fourth job was told three jobs were ahead of it"
    assert len(line) == 0


def test_a_job_that_fails_or_is_stopped_leaves_the_line():
    line = JobQueue()
    try:
        with line.turn():
            raise RuntimeError("stopped")
    except RuntimeError:
        pass
    done = []
    t = threading.Thread(target=lambda: line.turn().__enter__() or done.append(1))
    t.start()
    t.join(2)
    assert done, "the next job got its turn"
