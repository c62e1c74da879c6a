"""Neuron clusters: find them, describe them, impair them and draw the curves.

The core never imports Streamlit; pages call these functions with a
``progress(done, total)`` callback and plot the results with ``cluster.plots``.
"""

from cli.entry import lazy_exports

# Where each public name lives; imported on first use, so `python -m cluster` starts before torch loads.
_HOMES = {
    "cluster.curves": ["ImpairmentCurves", "impairment_curves"],
    "cluster.describe": ["ClusterDescription", "describe_cluster"],
    "cluster.errors": ["ClusterError", "ClusterMismatchError"],
    "cluster.find": ["find_profile_clusters", "find_topic_clusters"],
    "cluster.impair": ["METRICS", "EvalSet", "impairs", "make_eval_set", "random_cluster", "score"],
    "cluster.spec": ["Cluster", "check_cluster", "load_cluster", "save_cluster"],
}
__getattr__, __all__ = lazy_exports(__name__, _HOMES)
