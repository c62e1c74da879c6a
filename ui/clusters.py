"""Clusters in the app: choose one (a shipped one, one found or uploaded in this session, or
units typed by hand; the Impair, Compare and Edit pages choose theirs here too), and the
Clusters page's panels: find clusters with progress, upload one, describe, save and download.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from cluster.attribution import find_attribution_clusters
from cluster.describe import ClusterDescription, describe_cluster
from cluster.errors import ClusterError
from cluster.find import find_profile_clusters, find_topic_clusters
from cluster.spec import (Cluster, check_cluster, cluster_to_dict, load_cluster, read_cluster_bytes, save_cluster,
                          units_address)
from cluster.units import UNITS_HELP, parse_units
from engine import Engine
from promptsets.schema import KeywordPrompt
from ui.commands import cluster_find, repo_path
from ui.config import cluster_folder
from ui.jobs import heavy_job
from ui.links import chars, limits, note_unavailable, options
from ui.shell import CACHE_TTL, USER_ERRORS, attempt, cli_snippet, md_escape, progress_bar, show_error

CUSTOM = "custom units…"
FOUND_KEY = "_found_clusters"
SESSION_SUFFIX = "-session"
DESCRIBED = "_cluster_descriptions"
SAVE_FOR = "_save_path_for"
TOPIC_METHODS = {"selectivity": find_topic_clusters, "attribution": find_attribution_clusters}
READING = "Reading activations…"
ATTRIBUTING = "Attributing each answer to units, in rounds…"


@st.cache_data(max_entries=16, ttl=CACHE_TTL, show_spinner=False)
def _read_folder(folder: str, stamps: tuple[float, ...]) -> tuple[dict[str, tuple[Cluster, str]], tuple[str, ...]]:
    """name -> (cluster, its file) for every readable cluster file of ``folder``, and the unreadable files."""
    out: dict[str, tuple[Cluster, str]] = {}
    bad: list[str] = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            cluster = load_cluster(path)
        except ClusterError:
            bad.append(path.name)
            continue
        out[cluster.name] = (cluster, str(path))
    return out, tuple(bad)


# How often the cluster folder is looked at for changed files: at most once per this many seconds per
# folder, so a slider move (which names its cluster in the reproduce command) costs no directory scan.
STAMP_EVERY_S = 2.0
_stamps: dict[str, tuple[float, tuple[float, ...]]] = {}


def _folder_stamps(folder: Path) -> tuple[float, ...]:
    """The modification times of the folder's cluster files, read again after ``STAMP_EVERY_S``."""
    now, seen = time.monotonic(), _stamps.get(str(folder))
    if seen is None or now - seen[0] > STAMP_EVERY_S:
        seen = (now, tuple(p.stat().st_mtime for p in sorted(folder.glob("*.json"))))
        _stamps[str(folder)] = seen
    return seen[1]


def _shipped_files(folder: Path) -> tuple[dict[str, tuple[Cluster, str]], tuple[str, ...]]:
    """The cluster folder's files, re-read only when one of them changes."""
    if not folder.is_dir():
        return {}, ()
    return _read_folder(str(folder), _folder_stamps(folder))


def shipped_clusters(engine: Engine, folder: Path | None = None) -> tuple[dict[str, Cluster], list[str]]:
    """The shipped clusters that fit ``engine``'s model, by name, and the files left out (other model, corrupt)."""
    files, bad = _shipped_files(folder or cluster_folder())
    out: dict[str, Cluster] = {}
    skipped = list(bad)
    for name, (cluster, path) in files.items():
        try:
            check_cluster(cluster, engine.spec)
        except ClusterError:
            skipped.append(Path(path).name)
            continue
        out[name] = cluster
    return out, sorted(skipped)


def cluster_ref(cluster: Cluster) -> str:
    """How a command line names ``cluster``: its shipped file (relative to the repository), else its units."""
    shipped = _shipped_files(cluster_folder())[0].get(cluster.name)
    if shipped is not None and shipped[0] == cluster:
        return repo_path(shipped[1])
    return units_address(cluster)


def found_clusters() -> dict[str, Cluster]:
    """Clusters found or uploaded in this browser session (the Clusters page adds them)."""
    return st.session_state.setdefault(FOUND_KEY, {})


def remember_cluster(cluster: Cluster) -> Cluster:
    """Offer ``cluster`` in every cluster picker of this session, under a name no shipped cluster has
    (so a link naming a shipped cluster shows the same cluster to everyone); returns it as named."""
    taken = set(_shipped_files(cluster_folder())[0])
    if cluster.name in taken:
        cluster = replace(cluster, name=cluster.name + SESSION_SUFFIX)
    found_clusters()[cluster.name] = cluster
    return cluster


def pick_cluster(engine: Engine, key: str = "cluster", topic: str | None = None) -> Cluster:
    """A cluster selectbox bound to the URL; "custom units…" reads units and site by hand.

    Until one is chosen, the cluster of ``topic`` (else the first) is used and the box says so: the
    widget's default never depends on the prompt, so a link carries every choice a user made, and
    a link without one opens on the cluster the same prompt picks (URL, screen and run agree).
    Raises ClusterError when the typed units do not parse or do not exist in this model.
    """
    shipped, skipped = shipped_clusters(engine)
    known = {**shipped, **found_clusters()}
    names = [*known, CUSTOM]
    auto = next((n for n, c in known.items() if topic and c.topic == topic), next(iter(known), CUSTOM))
    why = "the prompt's topic" if topic and known.get(auto) and known[auto].topic == topic else "the first"
    note_unavailable(key, names, "cluster", "clusters found or loaded in another browser session stay there: "
                     "download the cluster there and load its file here")
    # The names exist only for this model and session: the rule of ``key`` is Text, the widget narrows it.
    chosen = st.selectbox("Cluster", names, index=None, key=key, bind="query-params",
                          placeholder=f"{auto} ({why})",
                          help="shipped topic clusters of the demo model, ones found on the Clusters page, or your own "
                               "units; until you choose, the prompt's topic cluster is used")
    name = chosen or auto
    if skipped:
        st.caption(md_escape(f"Left out {len(skipped)} shipped cluster file(s) made for another model: "
                             f"{', '.join(skipped)}."))
    if name != CUSTOM:
        cluster = known[name]
        st.caption(md_escape(f"{cluster.name}: {cluster.size} {cluster.site} units in layers "
                             f"{', '.join(map(str, cluster.layers))}"
                             + (f"; topic {cluster.topic}" if cluster.topic else "")
                             + ("; found or loaded in this session only" if name in found_clusters() else "")))
        return cluster
    n_last = engine.spec.n_layers - 1
    cols = st.columns([3, 1])
    text = cols[0].text_input("Units", value=f"{n_last}:0-15", key=f"{key}_units", bind="query-params",
                              max_chars=chars(f"{key}_units"), help=UNITS_HELP)
    site = cols[1].selectbox("Site", options(f"{key}_site"), key=f"{key}_site", bind="query-params",
                             help="mlp_post: the MLP neurons; mlp_out: the MLP output; mlp_in: the MLP's normalised input")
    cluster = Cluster(name="custom", neurons=parse_units(text), method="manual", site=site)
    check_cluster(cluster, engine.spec)
    return cluster


def find_panel(engine: Engine, model: str, prompts: tuple[KeywordPrompt, ...]) -> None:
    """Method, size and site, and a button that finds clusters on the train prompts (with progress)."""
    c1, c2, c3 = st.columns(3)
    method = c1.selectbox("Method", options("find_method"), key="find_method", bind="query-params",
                          help="selectivity: each topic's most selective units; attribution: the units each "
                               "topic's answers rely on (activation x gradient of the answer logit, grown in rounds); "
                               "kmeans / agglomerative: group units by activation profile")
    percent = c2.number_input("Top % of each layer", *limits("find_percent"), 3.0, 0.5, key="find_percent",
                              bind="query-params",
                              disabled=method not in TOPIC_METHODS)
    k = int(c2.number_input("Groups (k)", *limits("find_k"), 8, key="find_k", bind="query-params",
                            disabled=method in TOPIC_METHODS))
    site = c3.selectbox("Site", options("find_site"), key="find_site", bind="query-params")
    if st.button("Find clusters", key="find_go", type="primary"):
        label, what = (ATTRIBUTING, "prompt passes") if method == "attribution" else (READING, "prompts")
        with heavy_job("your cluster search"), progress_bar(label, f"{label} {{done}}/{{total}} {what}") as tick:
            if method in TOPIC_METHODS:
                found = attempt(TOPIC_METHODS[method], engine, prompts, percent, site=site, progress=tick)
            else:
                found = attempt(find_profile_clusters, engine, prompts, k, method=method, site=site, progress=tick)
        names = [remember_cluster(cluster).name for cluster in (found or {}).values()]
        if names:
            st.success(md_escape(f"Found {len(names)} clusters: {', '.join(names)}. Choose one below; they stay in "
                                 "this browser session (download one to keep it)."))
    cli_snippet(cluster_find(model, method, site, percent, k, 0))


def upload_panel(engine: Engine) -> None:
    """Read a cluster JSON file, all or nothing: a corrupt or mismatched file shows its error and changes nothing."""
    upload = st.file_uploader("Cluster file (.json)", type=["json"], key="cluster_upload")
    if upload is None:
        return
    try:
        cluster = read_cluster_bytes(upload.getvalue(), f"cluster file {upload.name}", engine.spec)
    except USER_ERRORS as err:
        show_error(err)
        return
    cluster = remember_cluster(cluster)
    st.success(md_escape(f"Loaded cluster {cluster.name!r} for this browser session; choose it below."))


def describe_panel(engine: Engine, model: str, cluster: Cluster, prompts: tuple[KeywordPrompt, ...]) -> None:
    """Top prompts, top token positions and promoted tokens, computed on demand with progress."""
    store = st.session_state.setdefault(DESCRIBED, {})
    key = (model, cluster)
    if st.button("Describe: top prompts and promoted tokens", key="describe_go"):
        with heavy_job("describing the cluster"), progress_bar(READING, READING + " {done}/{total} prompts") as tick:
            store[key] = attempt(describe_cluster, engine, cluster, prompts, progress=tick)
    desc: ClusterDescription | None = store.get(key)
    if desc is None:
        return
    st.markdown("**Tokens the whole cluster promotes:** " + md_escape(", ".join(repr(t) for t in desc.cluster_tokens)))
    c1, c2 = st.columns(2)
    c1.markdown("**Prompts that fire it most (last position)**")
    c1.dataframe(pd.DataFrame([vars(f) for f in desc.top_prompts]), hide_index=True)
    c2.markdown("**Token positions that fire it most**")
    c2.dataframe(pd.DataFrame([vars(f) for f in desc.top_tokens]), hide_index=True)
    st.markdown("**Promoted tokens of its highest-scoring units**")
    st.dataframe(pd.DataFrame([{"layer": u.layer, "unit": u.unit, "score": u.score, "tokens": ", ".join(map(repr, u.tokens))}
                               for u in desc.units]), hide_index=True)
    st.caption("score = mean z-scored activation of the cluster's units at that position (higher = fires more).")


def save_panel(cluster: Cluster, server_paths: bool) -> None:
    """Download the cluster; with ``server_paths`` (never in a workshop) also save it to a file on the server.

    The "Save to" box follows the chosen cluster: choosing another one puts that cluster's own file name in it.
    """
    text = json.dumps(cluster_to_dict(cluster), indent=1, sort_keys=True) + "\n"
    st.download_button("Download cluster (JSON)", text, file_name=f"{cluster.name}.json", mime="application/json",
                       key="cluster_json", on_click="ignore")
    if not server_paths:
        return
    if st.session_state.get(SAVE_FOR) != cluster:
        st.session_state[SAVE_FOR] = cluster
        st.session_state["save_path"] = f"clusters/{cluster.name}.json"
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    path = c1.text_input("Save to", key="save_path")
    if c2.button("Save", key="save_go"):
        try:
            st.success(md_escape(f"Saved {save_cluster(cluster, Path(path))}"))
            _stamps.clear()  # the next picker sees the new file at once
        except OSError as err:
            st.error(md_escape(f"cannot write {path}: {err.strerror}; choose another folder"))
