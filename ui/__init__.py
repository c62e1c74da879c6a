"""Streamlit helpers shared by the pages: cached engine, sidebar state, errors, downloads.

``ui.probs`` and ``ui.probs_plot`` are plain Python (no Streamlit), so the
live bar chart's numbers and figure can be tested and benchmarked alone.
"""
