"""Memory injection: add a memory (a sum of token rows) to one attention layer's output and watch the answer move.

The paper's recipe (``build_memory`` defaults): the unembedding rows of the
memory text's unique tokens, unnormalised, added at all positions of layer L,
swept over layers and scales 1..15.
"""

from memory.build import MEMORY_SOURCES, MemorySpec, build_memory, memory_token_ids
from memory.errors import MemorySpecError, SweepResumeError
from memory.evaluate import (RepairReport, RepairStats, choose_layer_scale, format_report, leave_one_out,
                             repair_check, repair_stats, two_hop_cases)
from memory.inject import InjectionResult, InjectionSpec, inject_memory
from memory.job import run_sweep_job
from memory.plots import plot_injection_effect, plot_layer_scale_heatmap, plot_repair_scatter, plot_top_tokens
from memory.sweep import LayerScaleSweep, SweepCase, SweepSpec, sweep_layer_scale

__all__ = [
    "MEMORY_SOURCES", "MemorySpec", "build_memory", "memory_token_ids",
    "MemorySpecError", "SweepResumeError",
    "RepairReport", "RepairStats", "choose_layer_scale", "format_report", "leave_one_out", "repair_check", "repair_stats", "two_hop_cases",
    "InjectionResult", "InjectionSpec", "inject_memory",
    "run_sweep_job",
    "plot_injection_effect", "plot_layer_scale_heatmap", "plot_repair_scatter", "plot_top_tokens",
    "LayerScaleSweep", "SweepCase", "SweepSpec", "sweep_layer_scale",
]
