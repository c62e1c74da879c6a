"""Memory injection: add a memory (a sum of token rows) to one attention layer's output and watch the answer move.

The paper's recipe (``build_memory`` defaults): the unembedding rows of the
memory text's unique tokens, unnormalised, added at all positions of layer L,
swept over layers and scales 1..15.
"""

from cli.entry import lazy_exports

# Where each public name lives; imported on first use, so `python -m memory` starts before torch loads.
_HOMES = {
    "memory.inject": ["InjectionResult", "InjectionSpec", "MEMORY_SOURCES", "MemorySpec", "MemorySpecError",
                      "SweepResumeError", "build_memory", "inject_memory", "memory_token_ids"],
    "memory.evaluate": ["RepairReport", "RepairStats", "choose_layer_scale", "format_report", "leave_one_out",
                        "repair_check", "repair_stats", "two_hop_cases"],
    "memory.plots": ["plot_injection_effect", "plot_layer_scale_heatmap", "plot_repair_scatter",
                     "plot_top_tokens"],
    "memory.sweep": ["LayerScaleSweep", "SweepCase", "SweepSpec", "run_sweep_job", "sweep_layer_scale"],
}
__getattr__, __all__ = lazy_exports(__name__, _HOMES)
