"""Choose a cluster: a shipped one, one found in this session, or units typed by hand."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import streamlit as st

from cluster.errors import ClusterError
from cluster.spec import Cluster
from cluster.storage import check_cluster, load_cluster
from cluster.units import MAX_TEXT, UNITS_HELP, parse_units, units_address
from engine import Engine
from engine.interventions import IMPAIR_SITES
from ui.commands import repo_path
from ui.config import cluster_folder
from ui.shell import md_escape
from ui.links import note_unavailable

CUSTOM = "custom units…"
FOUND_KEY = "_found_clusters"
SESSION_SUFFIX = "-session"


@st.cache_data(max_entries=16, show_spinner=False)
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


def _shipped_files(folder: Path) -> tuple[dict[str, tuple[Cluster, str]], tuple[str, ...]]:
    """The cluster folder's files, re-read only when one of them changes."""
    if not folder.is_dir():
        return {}, ()
    stamps = tuple(p.stat().st_mtime for p in sorted(folder.glob("*.json")))
    return _read_folder(str(folder), stamps)


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
    """A cluster selectbox bound to the URL, opening on the cluster of ``topic`` if there is one;
    "custom units…" reads units and site by hand.

    Raises ClusterError when the typed units do not parse or do not exist in this model.
    """
    shipped, skipped = shipped_clusters(engine)
    known = {**shipped, **found_clusters()}
    names = [*known, CUSTOM]
    first = next((i for i, c in enumerate(known.values()) if topic and c.topic == topic), 0)
    note_unavailable(key, names, "cluster", "clusters found or loaded in another browser session stay there: "
                     "download the cluster there and load its file here")
    name = st.selectbox("Cluster", names, index=first, key=key, bind="query-params",
                        help="shipped topic clusters of the demo model, ones found on the Clusters page, or your own units")
    if skipped:
        st.caption(md_escape(f"Left out {len(skipped)} shipped cluster file(s) made for another model: "
                             f"{', '.join(skipped)}."))
    if name != CUSTOM:
        cluster = known[name]
        st.caption(md_escape(f"{cluster.size} {cluster.site} units in layers {', '.join(map(str, cluster.layers))}"
                             + (f"; topic {cluster.topic}" if cluster.topic else "")
                             + ("; found or loaded in this session only" if name in found_clusters() else "")))
        return cluster
    n_last = engine.spec.n_layers - 1
    cols = st.columns([3, 1])
    text = cols[0].text_input("Units", value=f"{n_last}:0-15", key=f"{key}_units", bind="query-params",
                              max_chars=MAX_TEXT, help=UNITS_HELP)
    site = cols[1].selectbox("Site", IMPAIR_SITES, key=f"{key}_site", bind="query-params",
                             help="mlp_post: the MLP neurons; mlp_out: the MLP output; mlp_in: the MLP's normalised input")
    cluster = Cluster(name="custom", neurons=parse_units(text), method="manual", site=site)
    check_cluster(cluster, engine.spec)
    return cluster
