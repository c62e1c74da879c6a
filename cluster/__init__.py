"""Neuron clusters: find them, describe them, impair them and draw the curves.

The core never imports Streamlit; pages call these functions with a
``progress(done, total)`` callback and plot the results with ``cluster.plots``.
"""

from cluster.curves import ImpairmentCurves, impairment_curves
from cluster.describe import ClusterDescription, describe_cluster
from cluster.errors import ClusterError, ClusterMismatchError
from cluster.find import find_profile_clusters, find_topic_clusters
from cluster.impair import METRICS, EvalSet, impairs, make_eval_set, random_cluster, score
from cluster.spec import Cluster, check_cluster, load_cluster, save_cluster

__all__ = [
    "METRICS",
    "Cluster",
    "ClusterDescription",
    "ClusterError",
    "ClusterMismatchError",
    "EvalSet",
    "ImpairmentCurves",
    "check_cluster",
    "describe_cluster",
    "find_profile_clusters",
    "find_topic_clusters",
    "impairment_curves",
    "impairs",
    "load_cluster",
    "make_eval_set",
    "random_cluster",
    "save_cluster",
    "score",
]
