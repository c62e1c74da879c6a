"""Choose a cluster: a shipped one, one found in this session, or units typed by hand."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from cluster.errors import ClusterError
from cluster.spec import Cluster
from cluster.storage import check_cluster, load_cluster
from engine import Engine
from engine.interventions import IMPAIR_SITES
from ui.units import UNITS_HELP, parse_units
from ui.text import md_escape
from world.paths import DEMO_CLUSTERS

CUSTOM = "custom units…"
FOUND_KEY = "_found_clusters"


def shipped_clusters(engine: Engine, folder: Path = DEMO_CLUSTERS) -> tuple[dict[str, Cluster], list[str]]:
    """The shipped clusters that fit ``engine``'s model, by name, and the files left out (other model, corrupt)."""
    out: dict[str, Cluster] = {}
    skipped: list[str] = []
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        try:
            cluster = load_cluster(path, engine)
        except ClusterError:
            skipped.append(path.name)
            continue
        out[cluster.name] = cluster
    return out, skipped


def found_clusters() -> dict[str, Cluster]:
    """Clusters found or uploaded in this browser session (the Clusters page adds them)."""
    return st.session_state.setdefault(FOUND_KEY, {})


def remember_cluster(cluster: Cluster) -> None:
    """Offer ``cluster`` in every cluster picker of this session."""
    found_clusters()[cluster.name] = cluster


def pick_cluster(engine: Engine, key: str = "cluster", topic: str | None = None) -> Cluster:
    """A cluster selectbox bound to the URL, opening on the cluster of ``topic`` if there is one;
    "custom units…" reads units and site by hand.

    Raises ClusterError when the typed units do not parse or do not exist in this model.
    """
    shipped, skipped = shipped_clusters(engine)
    known = {**shipped, **found_clusters()}
    names = [*known, CUSTOM]
    first = next((i for i, c in enumerate(known.values()) if topic and c.topic == topic), 0)
    name = st.selectbox("Cluster", names, index=first, key=key, bind="query-params",
                        help="shipped topic clusters of the demo model, ones found on the Clusters page, or your own units")
    if skipped:
        st.caption(md_escape(f"Left out {len(skipped)} shipped cluster file(s) made for another model: "
                             f"{', '.join(skipped)}."))
    if name != CUSTOM:
        cluster = known[name]
        st.caption(md_escape(f"{cluster.size} {cluster.site} units in layers {', '.join(map(str, cluster.layers))}"
                             + (f"; topic {cluster.topic}" if cluster.topic else "")))
        return cluster
    n_last = engine.spec.n_layers - 1
    cols = st.columns([3, 1])
    text = cols[0].text_input("Units", value=f"{n_last}:0-15", key=f"{key}_units", bind="query-params",
                              help=UNITS_HELP)
    site = cols[1].selectbox("Site", IMPAIR_SITES, key=f"{key}_site", bind="query-params",
                             help="mlp_post: the MLP neurons; mlp_out: the MLP output; mlp_in: the MLP's normalised input")
    cluster = Cluster(name="custom", neurons=parse_units(text), method="manual", site=site)
    check_cluster(cluster, engine.spec)
    return cluster
