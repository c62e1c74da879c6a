"""Neuron clusters: find them, describe them, impair them and draw the curves.

The core never imports Streamlit; pages call these functions with a
``progress(done, total)`` callback and plot the results with ``cluster.plots``.
"""

from importlib import import_module

# Where each public name lives; imported lazily (see ``__getattr__``).
_FROM = {
    "cluster.curves": ["ImpairmentCurves", "impairment_curves"],
    "cluster.describe": ["ClusterDescription", "describe_cluster"],
    "cluster.errors": ["ClusterError", "ClusterMismatchError"],
    "cluster.find": ["find_profile_clusters", "find_topic_clusters"],
    "cluster.impair": ["METRICS", "EvalSet", "impairs", "make_eval_set", "random_cluster", "score"],
    "cluster.spec": ["Cluster", "check_cluster", "load_cluster", "save_cluster"],
}
_WHERE = {name: module for module, names in _FROM.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    """Import a public name on first use, so ``python -m cluster`` starts, and answers Ctrl-C, before torch loads."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
