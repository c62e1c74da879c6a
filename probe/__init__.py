"""Concept probes per layer, and which training sentences made the concept.

    from engine import Engine
    from probe import probe_concept, attribute_probe
    engine = Engine.load("assets/demo")
    report = probe_concept(engine, "assets/demo/prompts/concepts.jsonl", "role")
    report.scores      # held-out accuracy per site, with Wilson intervals and a shuffled-label twin
    report.appears     # the first layer whose accuracy's lower bound beats the majority's upper bound
    att = attribute_probe(engine, report.data, report.probes[report.best], "assets/demo/corpus.txt",
                          "assets/demo/corpus_facts.tsv")
    att.precision("trak")  # share of top-k sentences that state the held-out subject's label
"""

from cli.entry import lazy_exports

# Where each public name lives; imported on first use, so `python -m probe` starts before torch loads.
_HOMES = {
    "probe.attribute": ["METHODS", "Attribution", "AttributionSpec", "attribute_probe"],
    "probe.concepts": ["ConceptSet", "ProbeError", "load_concept"],
    "probe.fit": ["ProbeReport", "probe_concept", "probe_features"],
}
__getattr__, __all__ = lazy_exports(__name__, _HOMES)
