"""Compare representations: per-layer linear CKA between two runs or two models."""

from compare.cka import linear_cka
from compare.errors import CompareError, TokenizerMismatchError
from compare.layers import CkaResult, ModelCkaResult, cka_clean_vs_impaired, cka_between_models
from compare.plots import plot_cka_layers, plot_cka_models

__all__ = [
    "CkaResult",
    "CompareError",
    "ModelCkaResult",
    "TokenizerMismatchError",
    "cka_between_models",
    "cka_clean_vs_impaired",
    "linear_cka",
    "plot_cka_layers",
    "plot_cka_models",
]
