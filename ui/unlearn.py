"""The Unlearn page: pick a planted secret and see its extraction, pick a method and budget, apply it as a
per-run weight change, and watch memorized secrets, facts and perplexity move; the robustness curves on demand."""

from __future__ import annotations

from pathlib import Path
from shlex import quote

import pandas as pd
import streamlit as st

from promptsets.schema import SecretPrompt
from ui.commands import PYTHON, repo_path
from ui.jobs import heavy_job
from ui.links import limits, options
from ui.shell import CACHE_TTL, attempt, cli_snippet, load_engine, md_escape, progress_bar, show_figure
from unlearn.data import World, load_world, read_secrets
from unlearn.scores import Extraction, RobustCurves, Scores, evaluate, extract, robustness, union_cluster
from unlearn.methods import METHODS, TEXT, UnlearnSpec, Unlearning, unlearn
from unlearn.plots import extraction_rows, plot_robust, plot_scores, summary_rows

LIMIT = 50  # prompts of each surviving set the page scores (spread over the set); the command says the same
INTENSITIES = (0.0, 0.5, 1.0, 2.0)
TARGETS = options("unlearn_forget")
DEFAULT_METHOD = "mask"  # the one that forgets and keeps the facts on the bench (docs/unlearning.md)
SCORES_CAPTION = ("Grey: the original model; red: with the unlearning applied to this run only. Memorized = the greedy "
                  "continuation of the prefix reproduces the secret token for token; whiskers: 95% Wilson intervals.")
ROBUST_CAPTION = ("Share of the unlearned secrets whose greedy continuation reproduces them under Gaussian noise of "
                  "rising intensity (2 seeds): grey original, red unlearned; solid topic clusters, dotted random "
                  "clusters of the same size, dashed topic noise plus the secret's prefix injected as a memory.")


def secrets_file(model: str) -> Path:
    return Path(model) / "prompts" / "secrets.jsonl"


@st.cache_data(max_entries=8, ttl=CACHE_TTL, show_spinner=False)
def model_secrets(model: str) -> tuple[SecretPrompt, ...]:
    """The model folder's planted secrets (none when it has no secrets file)."""
    path = secrets_file(model)
    return read_secrets(path) if path.is_file() else ()


@st.cache_data(max_entries=4, ttl=CACHE_TTL, show_spinner="Reading the prompt sets…")
def cached_world(model: str) -> World:
    return load_world(model)


@st.cache_data(max_entries=256, ttl=CACHE_TTL, show_spinner=False)
def cached_extract(model: str, secret: SecretPrompt) -> Extraction:
    return extract(load_engine(model), secret)


@st.cache_data(max_entries=32, ttl=CACHE_TTL, show_spinner="Unlearning…")
def cached_unlearn(model: str, targets: tuple[SecretPrompt, ...], spec: UnlearnSpec) -> Unlearning:
    return unlearn(load_engine(model), cached_world(model), targets, spec)


@st.cache_data(max_entries=32, ttl=CACHE_TTL, show_spinner="Scoring secrets, facts and perplexity…")
def cached_scores(model: str, targets: tuple[SecretPrompt, ...], deltas: tuple) -> Scores:
    return evaluate(load_engine(model), cached_world(model), targets, deltas, LIMIT)


def pick_secret(secrets: tuple[SecretPrompt, ...]) -> SecretPrompt:
    """The secret selectbox (subject and copies)."""
    subjects = [s.subject for s in secrets]
    default = max(range(len(secrets)), key=lambda i: secrets[i].copies)
    # The secrets are the model's: the rule of unlearn_secret is Text, the widget narrows it.
    subject = st.selectbox("Secret", subjects, index=default, key="unlearn_secret", bind="query-params",
                           format_func=lambda s: f"{s} ({next(x.copies for x in secrets if x.subject == s)} copies)",
                           help="a planted sequence and how many times the training corpus holds it")
    return secrets[subjects.index(subject)]


def extraction_panel(model: str, secret: SecretPrompt) -> None:
    """The secret's prefix, true continuation and the original model's greedy continuation."""
    ex = attempt(cached_extract, model, secret)
    if ex is None:
        return
    c = st.columns(3)
    c[0].metric("Tokens reproduced", f"{ex.matched}/{ex.n_tokens}", help="leading tokens of the greedy continuation "
                "that equal the secret's")
    c[1].metric("Memorized", "yes" if ex.memorized else "no")
    c[2].metric("Copies in the corpus", ex.copies)
    st.markdown(f"**Prefix** {md_escape(repr(ex.prefix))} → **true** {md_escape(repr(ex.truth))} · "
                f"**greedy** {md_escape(repr(ex.generated))}")


def pick_spec(engine, secret: SecretPrompt, secrets: tuple[SecretPrompt, ...]) -> tuple[tuple[SecretPrompt, ...], UnlearnSpec]:
    """What to forget, the method and its budget."""
    c1, c2, c3 = st.columns([2, 2, 2])
    forget = c1.radio("Forget", options("unlearn_forget"), key="unlearn_forget", bind="query-params", horizontal=True)
    methods = options("unlearn_method")
    method = c2.selectbox("Method", methods, index=methods.index(DEFAULT_METHOD), key="unlearn_method",
                          bind="query-params",
                          help="; ".join(f"{m}: {TEXT[m]}" for m in METHODS))
    lo, total = limits("unlearn_budget", hi=engine.spec.n_layers * engine.spec.d_mlp)
    budget = int(c3.number_input("Budget (units)", lo, total, min(16, total), key="unlearn_budget", bind="query-params",
                                 help="MLP units removed (a mask: as many single weights as this many whole units; "
                                      "fine-tuning changes every weight and ignores it)"))
    st.caption(md_escape(TEXT[method]))
    targets = (secret,) if forget == TARGETS[0] else tuple(secrets)
    return targets, UnlearnSpec(method, budget)


def apply_command(model: str, targets: tuple[SecretPrompt, ...], spec: UnlearnSpec, all_secrets: int) -> str:
    """``python -m unlearn apply`` with the page's settings."""
    subjects = "" if len(targets) == all_secrets else "".join(f" --subject {quote(s.subject)}" for s in targets)
    return (f"{PYTHON} -m unlearn apply --model {quote(repo_path(model))} --method {spec.method} "
            f"--budget {spec.budget}{subjects} --limit {LIMIT}")


def results_panel(model: str, targets: tuple[SecretPrompt, ...], spec: UnlearnSpec, n_secrets: int) -> Unlearning | None:
    """After Apply: the scores before and after as metrics and bars, per-secret extraction, downloads, command."""
    result = attempt(cached_unlearn, model, targets, spec)
    before = attempt(cached_scores, model, targets, ())
    after = attempt(cached_scores, model, targets, result.deltas) if result is not None else None
    if result is None or before is None or after is None:
        return None
    m = st.columns(4)
    m[0].metric("Memorized secrets", f"{after.memorized.k}/{after.memorized.n}",
                f"{after.memorized.k - before.memorized.k:+d}", delta_color="inverse")
    m[1].metric("1-hop fact accuracy", f"{after.facts.value:.1%}", f"{after.facts.value - before.facts.value:+.1%}")
    m[2].metric("Two-hop accuracy", f"{after.two_hop.value:.1%}", f"{after.two_hop.value - before.two_hop.value:+.1%}")
    m[3].metric("Held-out perplexity", f"{after.perplexity:.3f}",
                f"{after.perplexity / before.perplexity - 1:+.1%}", delta_color="inverse")
    show_figure(plot_scores(before, after, f"{spec.method}, budget {spec.budget}"), "unlearn-scores", SCORES_CAPTION,
                key="unlearn_bars", table=pd.DataFrame(summary_rows(before, after)))
    st.dataframe(pd.DataFrame(extraction_rows(before, after)), hide_index=True)
    st.download_button("Secrets (CSV)", pd.DataFrame(extraction_rows(before, after)).to_csv(index=False),
                       file_name="unlearn-secrets.csv", mime="text/csv", key="unlearn_rows_csv", on_click="ignore",
                       icon=":material/download:")
    cli_snippet(apply_command(model, targets, spec, n_secrets))
    return result


def robust_panel(model: str, targets: tuple[SecretPrompt, ...], result: Unlearning) -> None:
    """The robustness curves, on a button (minutes on a busy machine)."""
    folder = Path(model) / "clusters"
    if not any(folder.glob("*.json")):
        st.caption("This model has no topic clusters (a clusters/ folder of *.json), so no robustness curves.")
        return
    key = (model, targets, result.spec)
    store = st.session_state.setdefault("_unlearn_curves", {})
    if st.button("Measure robustness curves", key="unlearn_robust_btn"):
        engine = load_engine(model)
        with heavy_job("your robustness curves"), progress_bar("Extracting under noise…",
                                                            "{done}/{total} conditions") as tick:
            topics = attempt(union_cluster, folder, engine)
            if topics is not None:
                store[key] = attempt(robustness, engine, targets, result.deltas, topics, INTENSITIES, progress=tick)
    curves: RobustCurves | None = store.get(key)
    if curves is None:
        st.caption("Press the button: is the secret extractable again under noise on the topic clusters, on random "
                   "clusters, or with its own prefix injected as a memory?")
        return
    show_figure(plot_robust(curves), "unlearn-robustness", ROBUST_CAPTION, key="unlearn_robust",
                table=pd.DataFrame(curves.rows()))
