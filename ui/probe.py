"""The Probes page: a concept of a labelled-subjects file, its probe accuracy per layer against baselines,
its sparsity curve, and (on a button) the training sentences attributed to it, each marked true or not."""

from __future__ import annotations

from pathlib import Path
from shlex import quote

import pandas as pd
import streamlit as st

from probe.attribute import METHODS, Attribution, AttributionSpec, attribute_probe, attribution_rows
from probe.concepts import concept_names, read_concept_rows
from probe.fit import ProbeReport, probe_concept
from probe.plots import path_rows, plot_accuracy, plot_sparsity, site_rows
from ui.commands import PYTHON, repo_path
from ui.config import workshop_mode
from ui.jobs import heavy_job
from ui.links import chars, limits
from ui.shell import CACHE_TTL, attempt, load_engine, md_escape, progress_bar, show_figure

ACC_CAPTION = ("Each point: a logistic-regression probe on the prompt's last token at that layer, fit on the "
               "train subjects (C chosen on a validation carve of them), judged on held-out subjects; bars are 95% "
               "Wilson intervals. Grey: the majority class and its interval; dotted: the same probe on shuffled "
               "labels. The concept appears at the first layer whose lower bound clears the majority's upper bound.")
SPARSE_CAPTION = ("An L1 probe at the best residual layer, at 12 strengths: held-out accuracy against the units it "
                  "keeps. Few units near full accuracy: a sparse concept; accuracy rising slowly with units: a diffuse one.")
ATT_CAPTION = ("Precision@k: the share of each held-out subject's top-k sentences that state its label "
               "(corpus_facts.tsv), pooled over the subjects, with 95% Wilson intervals.")


def concepts_file(model: str) -> str:
    """The concepts JSONL box (default: MODEL/prompts/concepts.jsonl), bound to the URL."""
    default = str(Path(model) / "prompts" / "concepts.jsonl")
    if workshop_mode():  # a workshop never reads a server path from a link
        return default
    return st.text_input("Labelled subjects (JSONL: concept, label, prompt, subject, split)", value=default,
                         key="probe_file", bind="query-params", max_chars=chars("probe_file"))


@st.cache_data(max_entries=16, ttl=CACHE_TTL, show_spinner="Probing every layer…")
def cached_report(model: str, concepts: str, concept: str) -> ProbeReport:
    """Probes at every site for ``concept`` (small arrays), cached per model, file and concept."""
    return probe_concept(load_engine(model), Path(concepts), concept)


@st.cache_resource(show_spinner=False)
def attribution_store() -> dict:
    """Finished attributions shared by every session, by (model, file, concept, spec); the oldest goes past 16."""
    return {}


def attribution(model: str, concepts: str, concept: str, spec: AttributionSpec, progress=None) -> Attribution:
    """TRAK, gradient similarity and random scores of the pool: from the store, or computed (with ``progress``)."""
    store, key = attribution_store(), (model, concepts, concept, spec)
    if key not in store:
        report = cached_report(model, concepts, concept)
        folder = Path(model)
        store[key] = attribute_probe(load_engine(model), report.data, report.probes[report.best], folder / "corpus.txt",
                                     folder / "corpus_facts.tsv", spec, progress)
        while len(store) > 16:
            store.pop(next(iter(store)))
    return store[key]


def pick_concept(concepts: str) -> str | None:
    """The concept selectbox over the file's concepts; None (with the error shown) when the file is unusable."""
    rows = attempt(read_concept_rows, Path(concepts))
    if rows is None:
        return None
    names = concept_names(rows)
    # The concepts are the file's: the rule of probe_concept is Text, the widget narrows it.
    return st.selectbox("Concept", names, key="probe_concept", bind="query-params") if names else None


def probe_commands(model: str, concepts: str, concept: str, spec: AttributionSpec | None = None) -> str:
    """``python -m probe fit`` (and ``attribute`` when ``spec`` is given) with the page's settings."""
    base = f"--model {quote(repo_path(model))} --concepts {quote(repo_path(concepts))} --concept {quote(concept)}"
    text = f"{PYTHON} -m probe fit {base}"
    if spec is not None:
        text += (f"\n{PYTHON} -m probe attribute {base} --targets {spec.targets} --others {spec.others} "
                 f"--k {spec.k} --out runs/probe-{quote(concept)}")
    return text


def accuracy_panel(report: ProbeReport) -> None:
    """Headline numbers, the accuracy-per-layer figure and the sparsity curve, with their tables."""
    best = report.score(report.best)
    m = st.columns(4)
    m[0].metric("appears at", report.appears.label if report.appears else "none")
    m[1].metric(f"accuracy at {report.best.label}", f"{best.acc:.3f}", help=f"95% [{best.lo:.3f}, {best.hi:.3f}]")
    m[2].metric(f"majority ({report.majority_label})", f"{report.majority_acc:.3f}")
    m[3].metric("units for 90% of the gain", "-" if report.sparse_units is None else str(report.sparse_units))
    show_figure(plot_accuracy(report), f"probe-{report.data.concept}", ACC_CAPTION, key="probe_acc",
                table=pd.DataFrame(site_rows(report)))
    show_figure(plot_sparsity(report), f"probe-sparsity-{report.data.concept}", SPARSE_CAPTION, key="probe_sparse",
                table=pd.DataFrame(path_rows(report)))


def attribution_panel(model: str, concepts: str, concept: str) -> AttributionSpec | None:
    """Settings, the button, then precision@k per method and the top sentences of one held-out subject."""
    if not (Path(model) / "corpus_facts.tsv").is_file():
        st.info("Attribution needs the model's training corpus.txt and corpus_facts.tsv beside it (the demo has them).")
        return None
    c = st.columns(3)
    targets = c[0].number_input("Held-out subjects", *limits("probe_targets"), 4, key="probe_targets",
                                bind="query-params")
    others = c[1].number_input("Other sentences in the pool", *limits("probe_others"), 200, key="probe_others",
                               bind="query-params")
    k = c[2].number_input("Top k", *limits("probe_k"), 10, key="probe_k", bind="query-params")
    spec = AttributionSpec(targets=int(targets), others=int(others), k=int(k))
    if st.button("Attribute to training sentences", key="probe_att_go", type="primary"):
        with heavy_job("your attribution"), progress_bar("Taking gradients…", "{done}/{total} sentences") as tick:
            attempt(attribution, model, concepts, concept, spec, lambda what, d, t: tick(d, t))
    if (model, concepts, concept, spec) not in attribution_store():
        st.caption("Press the button: TRAK, gradient similarity and a random ranking of the training sentences "
                   "for the probe's margin on held-out subjects (a minute or two on the demo).")
        return spec
    show_attribution(attempt(attribution, model, concepts, concept, spec))
    return spec


def show_attribution(att: Attribution | None) -> None:
    """Precision@k per method, then one subject's top sentences by TRAK, each marked true or not."""
    if att is None:
        return
    table = pd.DataFrame([{"method": m, "precision@k": p, "lo": lo, "hi": hi}
                          for m in METHODS for p, lo, hi in [att.precision(m)]])
    st.dataframe(table, hide_index=True)
    st.caption(md_escape(ATT_CAPTION + f" Pool: {len(att.pool)} sentences; {att.truth.mean():.3f} of "
                                       f"subject-sentence pairs are true. TRAK's ridge: {att.ridge:g} (chosen on "
                                       "train subjects)."))
    rows = pd.DataFrame(attribution_rows(att))
    subject = st.selectbox("Held-out subject", att.targets, key="probe_subject")
    method = st.radio("Ranking", METHODS, key="probe_method", horizontal=True)
    shown = rows[(rows.subject == subject) & (rows.method == method)][["rank", "text", "states_fact", "relation",
                                                                          "object", "line", "score"]]
    st.dataframe(shown, hide_index=True)
    st.download_button("Attribution (CSV)", data=rows.to_csv(index=False), file_name=f"probe-attribution-{att.concept}.csv",
                       mime="text/csv", key="probe_att_csv", on_click="ignore", icon=":material/download:")
