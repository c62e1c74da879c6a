"""Edit cases from the demo world: a fact to rewrite, its paraphrases, its neighbours, held-out text.

Because the world is known, every score is exact: the paraphrases are the relation's other
sentence templates cut before the object, the neighbours are other subjects' facts of the
same relation, and the held-out text is new documents written from the world's sentences.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from edit.errors import EditSpecError
from edit.spec import Fact
from promptsets.paths import DEMO_DIR, DEMO_PROMPTS
from promptsets.schema import FactPrompt, load_fact_prompts
from world import templates as T
from world.config import WorldConfig
from world.corpus import city_sentences, company_sentences, person_sentences
from world.entities import generate_world
from world.prompt_sets import cut

# relation -> (templates, object slot, subject slot)
RELATIONS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "birthplace": (T.BIRTHPLACE, "city", "p"),
    "sport": (T.SPORT, "sport", "p"),
    "style": (T.STYLE, "style", "p"),
    "industry": (T.INDUSTRY, "industry", "x"),
    "based_in": (T.COMPANY_CITY, "city", "x"),
    "country": (T.CITY_COUNTRY, "country", "city"),
}


@dataclass(frozen=True)
class EditCase:
    """A fact to edit with what it is scored on.

    paraphrases: the same subject and relation through other templates (should now give ``fact.new``).
    neighbours:  ``(prompt, answer)`` of other subjects with the same relation (should not change).
    topic:       the demo topic of the subject (names the topic cluster to impair); "" if none.
    """

    fact: Fact
    paraphrases: tuple[str, ...] = ()
    neighbours: tuple[tuple[str, str], ...] = ()
    topic: str = ""


def paraphrases(relation: str, subject: str) -> tuple[str, ...]:
    """The relation's other templates for ``subject``, cut before the object; () for an unknown relation."""
    if relation not in RELATIONS:
        return ()
    templates, slot, who = RELATIONS[relation]
    out = []
    for template in templates[1:]:
        prompt = cut(template, slot, **{who: subject})
        if subject in prompt:  # templates naming the object before the subject cannot ask for it
            out.append(prompt)
    return tuple(out)


def case_for(row: FactPrompt, new: str, facts: Sequence[FactPrompt], n_neighbours: int = 8,
             seed: int = 0) -> EditCase:
    """The case that rewrites ``row``'s answer to ``new``, with neighbours drawn from ``facts``."""
    others = [f for f in facts if f.relation == row.relation and f.subject != row.subject]
    rng = random.Random(f"{seed}:{row.subject}:{row.relation}")
    picked = rng.sample(others, k=min(n_neighbours, len(others)))
    fact = Fact(row.prompt, row.subject, new, row.answer, row.relation)
    return EditCase(fact, paraphrases(row.relation, row.subject), tuple((f.prompt, f.answer) for f in picked),
                    row.topic)


def new_objects(row: FactPrompt, facts: Sequence[FactPrompt]) -> tuple[str, ...]:
    """Every other object the relation takes in the world, sorted (the choices for a new object)."""
    return tuple(sorted({f.answer for f in facts if f.relation == row.relation} - {row.answer}))


def demo_cases(n: int, seed: int = 0, prompts_dir: Path = DEMO_PROMPTS,
               relations: Sequence[str] = tuple(RELATIONS)) -> list[EditCase]:
    """``n`` edit cases spread over ``relations`` (round robin), each with a seeded new object."""
    facts = load_fact_prompts(prompts_dir)
    rng = random.Random(seed)
    pools = {r: [f for f in facts if f.relation == r] for r in relations}
    pools = {r: rng.sample(rows, k=len(rows)) for r, rows in pools.items() if rows}
    if not pools:
        raise EditSpecError(f"no facts of relations {list(relations)} in {prompts_dir}; choose from {list(RELATIONS)}")
    cases: list[EditCase] = []
    i = 0
    while len(cases) < n and any(pools.values()):
        relation = list(pools)[i % len(pools)]
        i += 1
        if pools[relation]:
            row = pools[relation].pop()
            cases.append(case_for(row, rng.choice(new_objects(row, facts)), facts, seed=seed))
    return cases


def heldout_texts(n: int = 48, seed: int = 0, demo_dir: Path = DEMO_DIR) -> tuple[str, ...]:
    """``n`` documents written from the demo world's sentences that are not lines of its corpus.

    The facts are the training facts (so an edit that damages them shows), the documents are new.
    """
    meta = json.loads((Path(demo_dir) / "world.json").read_text(encoding="utf-8"))
    world = generate_world(WorldConfig(**meta["world"]))
    corpus = set((Path(demo_dir) / "corpus.txt").read_text(encoding="utf-8").splitlines())
    pools = [person_sentences(world, p) for p in world.people]
    pools += [company_sentences(world, c) for c in world.companies]
    pools += [city_sentences(city, country) for city, country in world.city_country.items()]
    rng = random.Random(10_000 + seed)
    out: list[str] = []
    while len(out) < n:
        pool = rng.choice(pools)
        doc = " ".join(s.text for s in rng.sample(pool, k=min(len(pool), 3)))
        if doc not in corpus and doc not in out:
            out.append(doc)
    return tuple(out)


def demo_texts(model: str, n_heldout: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(key texts, held-out texts) of a demo-built model folder (one with world.json); empty otherwise."""
    folder = Path(model)
    if not (folder / "world.json").is_file():
        return (), ()
    keys = tuple((folder / "corpus.txt").read_text(encoding="utf-8").splitlines()[:200])
    return keys, heldout_texts(n_heldout, demo_dir=folder) if n_heldout > 0 else ()
