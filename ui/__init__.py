"""The app's Streamlit side: one module per page (``lens``, ``clusters``, ``impair``, ``memory``,
``edit``, ``compare``) holding that page's panels and controls, and the shell they share
(``shell``: sidebar, page opening, errors, the cached engine and results, downloads).

``config`` (settings and prompt sets) and ``commands`` (the command lines that reproduce a
figure) are plain Python. The Impair page's live chart (its numbers and figure) is plain Python
beside the cluster code (``cluster.impair.summarise_run``, ``cluster.plots.plot_next_token_probs``),
so it can be tested and benchmarked alone. ``links`` checks a link's parameters before
any widget reads them; ``warmup`` fills the shared caches when the server starts.
"""
