"""One Engine shared by many threads: each run equals the same run done alone."""

from __future__ import annotations

import threading

import torch

from engine import Ablate, Engine, Impair, Inject


def test_two_threads_with_different_interventions_get_their_own_results(tiny_model_dir):
    eng = Engine.load(tiny_model_dir)
    jobs = {
        "a": ("Tovaren plays tennis and was born in", [
            Impair(layer=1, neurons=(1, 2, 3), mode="noise", intensity=3.0, seed=5)], 4),
        "b": ("Zentrix is a shipping company based in", [
            Inject(layer=0, vector=tuple(torch.linspace(-1, 1, 32).tolist()), scale=4.0),
            Ablate(layer=2, head=1, mode="mean")], 1),
    }
    alone = {name: eng.run(*job).logits for name, job in jobs.items()}
    # Different prompts *and* the same prompt in both threads, to share the cached trace.
    jobs["c"] = (jobs["a"][0], [Impair(layer=0, neurons=(7,), mode="zero", positions="last")], 1)
    alone["c"] = eng.run(*jobs["c"]).logits
    eng._traces.clear()
    failures: list[str] = []
    start = threading.Barrier(len(jobs))

    def worker(name: str) -> None:
        start.wait()
        for i in range(40):
            got = (eng.run if i % 2 else eng.run_full)(*jobs[name]).logits
            if not torch.allclose(got, alone[name], atol=1e-4, rtol=0):
                failures.append(f"{name} differed on iteration {i}")

    threads = [threading.Thread(target=worker, args=(name,)) for name in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in eng.model.modules()) == 0
