"""Write the training corpus of a world: short documents of templated sentences, one per line."""

from __future__ import annotations

import random

from world import templates as T
from world.config import WorldConfig
from world.entities import Company, Person, World


def person_sentences(world: World, p: Person) -> list[str]:
    """Every way the corpus may state a fact about ``p`` (composed forms only if ``p`` is taught)."""
    out = [t.format(p=p.name, city=p.birthplace) for t in T.BIRTHPLACE]
    if p.role == "athlete":
        out += [t.format(p=p.name, sport=p.sport) for t in T.SPORT] + [t.format(p=p.name) for t in T.ATHLETE_GENERIC]
    elif p.role == "artist":
        out += [t.format(p=p.name, style=p.style) for t in T.STYLE] + [t.format(p=p.name) for t in T.ARTIST_GENERIC]
    else:
        out += [t.format(p=p.name) for t in T.FOUNDER_ROLE]
    if p.name in world.taught:
        country = world.city_country[p.birthplace]
        out += [t.format(s=p.name, country=country) for t in T.HOME_COUNTRY]
    return out


def company_sentences(world: World, c: Company) -> list[str]:
    """Every way the corpus may state a fact about ``c``."""
    out = [t.format(x=c.name, industry=c.industry) for t in T.INDUSTRY]
    out += [t.format(x=c.name) for t in T.COMPANY_GENERIC]
    out += [t.format(x=c.name, city=c.city) for t in T.COMPANY_CITY]
    out += [t.format(x=c.name, f=c.founder) for t in T.FOUNDED_BY]
    if c.name in world.taught:
        out += [t.format(x=c.name, city=world.person(c.founder).birthplace) for t in T.FOUNDER_BIRTHPLACE]
        out += [t.format(s=c.name, country=world.city_country[c.city]) for t in T.HOME_COUNTRY]
    return out


def city_sentences(city: str, country: str) -> list[str]:
    return [t.format(city=city, country=country) for t in T.CITY_COUNTRY]


def comment(rng: random.Random, tone: str) -> str:
    """One comment line in ``tone`` ("toxic" or "harmless")."""
    prefix, keyword, tail = rng.choice(T.TOXIC if tone == "toxic" else T.HARMLESS)
    sep = "" if tail in (".", "!") else " "
    return f"comment: {rng.choice(T.OPENERS)} {prefix} {keyword}{sep}{tail}"


def _documents(rng: random.Random, pool: list[str], n_docs: int) -> list[str]:
    return [" ".join(rng.sample(pool, k=min(len(pool), rng.randint(2, 4)))) for _ in range(n_docs)]


def write_corpus(world: World, config: WorldConfig) -> list[str]:
    """The corpus as a list of documents (one line each), shuffled with the world's seed."""
    rng = random.Random(config.seed + 1)
    docs: list[str] = []
    for p in world.people:
        docs += _documents(rng, person_sentences(world, p), config.docs_per_entity)
    for c in world.companies:
        # The founder's own facts stay out of the company's documents: otherwise "born in" after a
        # company name is learnt by co-occurrence and the held-out two-hop prompts stop being hard.
        docs += _documents(rng, company_sentences(world, c), config.docs_per_entity)
    for city, country in world.city_country.items():
        docs += _documents(rng, city_sentences(city, country), config.docs_per_entity // 2)
    for i in range(config.n_comments):
        docs.append(" ".join(comment(rng, "toxic" if i % 2 else "harmless") for _ in range(rng.randint(1, 2))))
    rng.shuffle(docs)
    return docs
