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

from probe.attribute import METHODS, Attribution, AttributionSpec, attribute_probe
from probe.concepts import ConceptSet, ProbeError, load_concept
from probe.fit import ProbeReport, probe_concept, probe_features

__all__ = ["METHODS", "Attribution", "AttributionSpec", "ConceptSet", "ProbeError", "ProbeReport",
           "attribute_probe", "load_concept", "probe_concept", "probe_features"]
