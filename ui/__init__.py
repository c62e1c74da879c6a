"""The app's Streamlit side: one module per page (``lens``, ``clusters``, ``impair``, ``memory``,
``edit``, ``compare``) holding that page's panels and controls, and the shell they share
(``shell``: sidebar, page opening, errors, the cached engine and results, downloads).

``config`` (settings and prompt sets) and ``commands`` (the command lines that reproduce a
figure) are plain Python, as are ``probs`` and ``probs_plot``, so the live bar chart's numbers
and figure can be tested and benchmarked alone. ``links`` checks a link's parameters before
any widget reads them; ``warmup`` fills the shared caches when the server starts.
"""
