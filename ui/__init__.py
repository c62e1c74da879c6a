"""Streamlit helpers shared by the pages: cached engine, sidebar state, errors, downloads.

The Impair page's live chart (its numbers and figure) is plain Python beside the
cluster code (``cluster.impair.summarise_run``, ``cluster.plots.plot_next_token_probs``).
"""
