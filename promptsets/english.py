"""English prompt sets for real GPT-2-class models, built from the tables in ``english_data``.

    python -m promptsets.english [--out assets/prompts/english]

Keyword prompts (athlete -> sport, artist -> art form, company -> product, toxic and
harmless comments), one single-hop fact per entity, and two-hop prompts (a work's creator's nationality, a subject's
country's capital) in the demo's schema. Splits are by entity (a person, company or work)
or by comment phrase, and every answer's first entity or phrase trains:
no entity or phrase crosses splits (tests/test_english_prompts.py checks it with
``world.hygiene``).
"""

from __future__ import annotations

import argparse
from itertools import product
from pathlib import Path
from typing import Sequence

from promptsets import english_data as data
from promptsets.paths import ENGLISH_PROMPTS
from promptsets.schema import (FACTS_FILE, KEYWORDS_FILE, TWO_HOP_FILE, FactPrompt, KeywordPrompt, TwoHopPrompt,
                               write_jsonl)

SPLITS = ("train", "validation", "heldout")
_CYCLE = ("train", "heldout", "train", "validation", "train")
TEMPLATES = {
    "athlete": ("{e} plays the sport of", "{e} is a legend in the sport of"),
    "artist": ("{e} is known around the world as a great", "{e} earned fame as a brilliant"),
    "company": ("{e} is a company that sells", "{e} is famous around the world for its"),
}
OPENERS = ("Honestly,", "Wow,", "Seriously,", "Well,")
ENTITY_TABLES = {"athlete": data.ATHLETES, "artist": data.ARTISTS, "company": data.COMPANIES}
COMMENT_TABLES = {"toxic": data.TOXIC_PHRASES, "harmless": data.HARMLESS_PHRASES}
RELATIONS = {"athlete": "sport", "artist": "art_form", "company": "product"}
WORK_TEMPLATE = "The nationality of the {role} of {work} is"
COUNTRY_TEMPLATES = {"athlete": "The capital of the home country of {s} is",
                     "company": "The capital of the country where {s} is based is"}


def rows(table: str) -> list[tuple[str, ...]]:
    """The ``|``-separated cells of each non-empty line of ``table``."""
    return [tuple(c.strip() for c in line.split("|")) for line in table.strip().splitlines() if line.strip()]


def assign_splits(groups: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Split of each (group, answer). An answer's first group trains; an answer with many groups cycles
    through train/heldout/validation, the rare answers' other groups alternate heldout/validation."""
    count: dict[str, int] = {}
    for _, answer in groups:
        count[answer] = count.get(answer, 0) + 1
    seen: dict[str, int] = {}
    rare = 0
    out = {}
    for group, answer in groups:
        i = seen.get(answer, 0)
        seen[answer] = i + 1
        if i == 0 or count[answer] >= len(_CYCLE):
            out[group] = _CYCLE[i % len(_CYCLE)]
        else:
            out[group] = ("heldout", "validation")[rare % 2]
            rare += 1
    return out


def entity_prompts(topic: str) -> list[KeywordPrompt]:
    """Keyword prompts of ``topic``, every template for every entity, split by entity."""
    table = rows(ENTITY_TABLES[topic])
    split = assign_splits(table)
    return [KeywordPrompt(topic, t.format(e=entity), " " + answer, split[entity], entity)
            for entity, answer in table for t in TEMPLATES[topic]]


def comment_prompts(topic: str) -> list[KeywordPrompt]:
    """Comment prompts of ``topic``: every opener before every phrase, split by phrase."""
    table = rows(COMMENT_TABLES[topic])
    split = assign_splits(table)
    return [KeywordPrompt(topic, f"{opener} {phrase}", " " + answer, split[phrase])
            for (phrase, answer), opener in product(table, OPENERS)]


def keyword_prompts() -> list[KeywordPrompt]:
    """Every English keyword prompt: three entity topics, then the two comment tones."""
    return [p for topic in TEMPLATES for p in entity_prompts(topic)] + \
           [p for topic in COMMENT_TABLES for p in comment_prompts(topic)]


def fact_prompts() -> list[FactPrompt]:
    """One single-hop fact per entity (its topic's first template): what the Edit tools rewrite and compare."""
    return [FactPrompt(topic, RELATIONS[topic], TEMPLATES[topic][0].format(e=entity), " " + answer, entity)
            for topic in TEMPLATES for entity, answer in rows(ENTITY_TABLES[topic])]


def _control(table: list[tuple[str, ...]], i: int, bridge_col: int, answer_col: int,
             same: int | None = None) -> str:
    """A bridge of another row (of the same kind in column ``same``) with another answer, rotating with ``i``."""
    row = table[i]
    others = sorted({r[bridge_col] for r in table if r[answer_col] != row[answer_col]
                     and r[bridge_col] != row[bridge_col] and (same is None or r[same] == row[same])})
    return others[i % len(others)]


def _bridge(text: str) -> str:
    """A bridge entity as the model reads it mid-sentence: a leading space, no article."""
    return " " + text.removeprefix("the ")


def two_hop_prompts() -> list[TwoHopPrompt]:
    """Creator-nationality and country-capital prompts, each with its bridge and a same-type control."""
    works, homes = rows(data.WORKS), rows(data.HOME_COUNTRIES)
    out = []
    split = assign_splits([(w[1], w[0]) for w in works])
    for i, (role, work, creator, nationality) in enumerate(works):
        control = _control(works, i, 2, 3, same=0)
        out.append(TwoHopPrompt(f"{role}_nationality", WORK_TEMPLATE.format(role=role, work=work),
                                " " + nationality, " " + creator, work, split[work], " " + control))
    split = assign_splits([(h[0], h[1]) for h in homes])
    for i, (subject, kind, country, capital) in enumerate(homes):
        control = _control(homes, i, 2, 3)
        out.append(TwoHopPrompt(f"{kind}_country_capital", COUNTRY_TEMPLATES[kind].format(s=subject),
                                " " + capital, _bridge(country), subject, split[subject], _bridge(control)))
    return out


def build(out: Path = ENGLISH_PROMPTS) -> tuple[int, int, int]:
    """Write keywords.jsonl, facts.jsonl and two_hop.jsonl to ``out``; their prompt counts."""
    keywords, facts, two_hop = keyword_prompts(), fact_prompts(), two_hop_prompts()
    write_jsonl(Path(out) / KEYWORDS_FILE, keywords)
    write_jsonl(Path(out) / FACTS_FILE, facts)
    write_jsonl(Path(out) / TWO_HOP_FILE, two_hop)
    return len(keywords), len(facts), len(two_hop)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m promptsets.english", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ENGLISH_PROMPTS)
    args = parser.parse_args()
    n_keywords, n_facts, n_two_hop = build(args.out)
    print(f"wrote {n_keywords} keyword prompts, {n_facts} facts and {n_two_hop} two-hop prompts to {args.out}")


if __name__ == "__main__":
    main()
