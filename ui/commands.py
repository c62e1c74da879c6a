"""The command lines that reproduce a page's figure outside the app (no Streamlit here).

Each runs as printed from the repository root with the project's interpreter (``PYTHON``),
and reproduces the number the page shows: the same prompt and settings, not a sweep.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from shlex import quote

from promptsets.paths import DEMO_CLUSTERS, DEMO_PROMPTS, REPO_ROOT


@lru_cache(maxsize=256)
def repo_path(p: str) -> str:
    """A path relative to the repository when it lies inside it, so commands are portable."""
    try:
        return str(Path(p).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return p


PROMPTS = repo_path(str(DEMO_PROMPTS))
# The virtual environment ./run.sh sets up; a bare ``python`` outside it lacks the packages.
PYTHON = ".venv/bin/python"


def cluster_find(model: str, method: str, site: str, percent: float, k: int, seed: int) -> str:
    """``python -m cluster find`` with the page's settings."""
    size = f"--percent {percent:g}" if method in ("selectivity", "attribution") else f"--k {k} --seed {seed}"
    return (f"{PYTHON} -m cluster find --model {quote(repo_path(model))} --prompts {PROMPTS} --method {method} "
            f"{size} --site {site} --out clusters")


def cluster_describe(model: str, cluster: str) -> str:
    """``python -m cluster describe``; ``cluster`` is a cluster file or a ``units:`` address."""
    return (f"{PYTHON} -m cluster describe --model {quote(repo_path(model))} --prompts {PROMPTS} "
            f"--cluster {quote(cluster)}")


def cluster_sweep(model: str, cluster: str, name: str, mode: str, intensities: str, seed: int, samples: int) -> str:
    """``python -m cluster sweep``: impairment curves with a random baseline, written under sweep-<name>."""
    return (f"{PYTHON} -m cluster sweep --model {quote(repo_path(model))} --prompts {PROMPTS} "
            f"--cluster {quote(cluster)} --modes {mode} --intensities {intensities} "
            f"--seeds {seed} --samples {samples} --out {quote('sweep-' + name)}")


def impair_run(model: str, cluster: str, prompt: str, target: str | None, mode: str, intensity: float, seed: int,
               samples: int, positions: object, top_k: int) -> str:
    """A Python one-liner printing the Impair page's KL, p(target) and rank for one run of one prompt."""
    means = ("from cluster.inputs import unit_means; from promptsets.schema import load_keyword_prompts; "
             f"m = unit_means(e, tuple(p.prompt for p in load_keyword_prompts({PROMPTS!r}) if p.split == 'train'), c.site); "
             if mode == "mean" else "m = None; ")
    target_code = f"e.token_id({target!r}, first=True)" if target else "None"
    code = ("from engine import Engine; from cluster.spec import load_cluster; "
            "from cluster.impair import impairs, summarise_run; "
            f"e = Engine.load({repo_path(model)!r}); c = load_cluster({cluster!r}); " + means
            + f"ivs = impairs(c, {mode!r}, {float(intensity)!r}, seed={seed}, positions={positions!r}, means=m); "
            f"r = summarise_run(e.run({prompt!r}, ivs, samples={samples}), e.token_strs, k={top_k}, "
            f"target_id={target_code}); "
            "print(f'KL from clean {r.kl:.4f}; p(target {r.target_label}) {r.target_impaired:.4f}; "
            "rank {r.rank_impaired}')")
    return f"{PYTHON} -c {quote(code)}"


def impair_curves(model: str, cluster: str, mode: str, intensities: tuple[float, ...], seed: int, samples: int,
                  positions: object, per_topic: int, metric: str) -> str:
    """A Python one-liner printing the Impair page's curves: ``metric`` per topic at each intensity, over the
    first ``per_topic`` held-out keyword prompts of each topic (the page's prompts, not the whole split)."""
    code = ("from engine import Engine; from cluster.spec import load_cluster; from cluster.curves import impairment_curves; "
            "from promptsets.schema import load_keyword_prompts; import itertools; "
            f"e = Engine.load({repo_path(model)!r}); "
            f"h = [p for p in load_keyword_prompts({PROMPTS!r}) if p.split == 'heldout']; "
            f"ps = [p for _, g in itertools.groupby(sorted(h, key=lambda p: p.topic), key=lambda p: p.topic) "
            f"for p in list(g)[:{per_topic}]]; "
            f"c = impairment_curves(e, load_cluster({cluster!r}), ps, {mode!r}, {tuple(intensities)!r}, seeds=({seed},), "
            f"samples={samples}, positions={positions!r}); "
            f"[print(t, ' '.join(f'{{v:.4f}}' for v in c.curve({metric!r}, t))) for t in c.topics]")
    return f"{PYTHON} -c {quote(code)}"


def memory_inject(model: str, prompt: str, memory: str, answer: str | None, layer: int, scale: float,
                  source: str, normalise: bool, positions: str) -> str:
    """``python -m memory inject`` for one injection."""
    extra = f" --answer {quote(answer)}" if answer else ""
    norm = " --normalise" if normalise else ""
    return (f"{PYTHON} -m memory inject --model {quote(repo_path(model))} --prompt {quote(prompt)} --memory {quote(memory)}"
            f"{extra} --layer {layer} --scale {scale:g} --source {source}{norm} --positions {positions}")


def memory_heatmap(model: str, prompt: str, answer: str, memory: str, source: str, normalise: bool,
                   positions: object) -> str:
    """A Python one-liner printing the Memory heatmap's gain per layer (rows) and scale 1..15 (columns)."""
    code = ("from engine import Engine; from memory.sweep import SweepCase, SweepSpec, sweep_layer_scale; "
            f"s = sweep_layer_scale(Engine.load({repo_path(model)!r}), [SweepCase('0', {prompt!r}, {answer!r}, {memory!r})], "
            f"SweepSpec(source={source!r}, normalise={normalise!r}, positions={positions!r})); "
            "[print(f'layer {l}: ' + ' '.join(f'x{g:.4g}' for g in s.gain[0, i])) for i, l in enumerate(s.layers)]")
    return f"{PYTHON} -c {quote(code)}"


def positions_arg(positions: object) -> str:
    """A Positions value as the CLIs read it: all, last, or "0,-1"."""
    return positions if isinstance(positions, str) else ",".join(map(str, positions))  # type: ignore[arg-type]


def lens_train(model: str, folder: str, kind: str, steps: int, data: str) -> str:
    """``python -m lens train`` with the page's settings."""
    return (f"{PYTHON} -m lens train --model {quote(repo_path(model))} --out {quote(repo_path(folder))} --kind {kind} "
            f"--steps {steps} --data {quote(repo_path(data))}")


def lens_decode(model: str, folder: str, prompt: str, target: str | None, pos: int) -> str:
    """``python -m lens decode``: every head's top token at one position."""
    extra = f" --target {quote(target)}" if target else ""
    return (f"{PYTHON} -m lens decode --model {quote(repo_path(model))} --lenses {quote(repo_path(folder))} "
            f"--prompt {quote(prompt)}{extra} --pos {pos}")


def _prompt_flags(prompts: tuple[str, ...]) -> str:
    return " ".join(f"--prompt {quote(p)}" for p in prompts)


def compare_impaired(model: str, cluster: str, mode: str, intensity: float, seed: int, site: str,
                     prompts: tuple[str, ...]) -> str:
    """``python -m compare impaired``: CKA per layer, clean vs impaired, over exactly the page's prompts."""
    return (f"{PYTHON} -m compare impaired --model {quote(repo_path(model))} --cluster {quote(cluster)} "
            f"--mode {mode} --intensity {intensity:g} --seed {seed} --site {site} {_prompt_flags(prompts)}")


def compare_models(model: str, other: str, site: str, prompts: tuple[str, ...]) -> str:
    """``python -m compare models``: CKA of every layer pair of two models, over exactly the page's prompts."""
    return (f"{PYTHON} -m compare models --model {quote(repo_path(model))} --other {quote(repo_path(other))} "
            f"--site {site} {_prompt_flags(prompts)}")


def logit_lens(model: str, prompt: str, target: str | None) -> str:
    """A Python one-liner printing the logit lens's top token per layer and position."""
    code = (f"from engine import Engine; from lens import decode_logit_lens; "
            f"r = decode_logit_lens(Engine.load({repo_path(model)!r}), {prompt!r}, target={target!r}); "
            "print(r.labels); print(r.top_strs[..., 0]); print(r.top_probs[..., 0].round(3))")
    return f"{PYTHON} -c {quote(code)}"


def edit_apply(model: str, prompt: str, subject: str, new: str, method: str, layer: int, rank: int,
               alpha: float, cluster_file: str | None, mode: str) -> str:
    """``python -m edit apply`` for one edit (with its robustness curves when a cluster file is known)."""
    robust = f" --cluster {quote(cluster_file)} --mode {mode}" if cluster_file else ""
    return (f"{PYTHON} -m edit apply --model {quote(repo_path(model))} --prompt {quote(prompt)} --subject {quote(subject)} "
            f"--new {quote(new)} --prompts {PROMPTS} --method {method} --layer {layer} --rank {rank} "
            f"--alpha {alpha:g}{robust}")


def edit_sweep(model: str, layer: int, rank: int, alpha: float, mode: str) -> str:
    """``python -m edit sweep``: 50 demo edits per method, with robustness against learned facts."""
    return (f"{PYTHON} -m edit sweep --model {quote(repo_path(model))} --prompts {PROMPTS} "
            f"--clusters {repo_path(str(DEMO_CLUSTERS))} --n 50 --layer {layer} --rank {rank} --alpha {alpha:g} "
            f"--mode {mode} --out edit-sweep")
