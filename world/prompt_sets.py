"""Build the prompt sets of a world: keyword prompts per topic, single-hop facts, two-hop prompts."""

from __future__ import annotations

import random

from promptsets.schema import FactPrompt, KeywordPrompt, TwoHopPrompt
from world import templates as T
from world.entities import World


def cut(template: str, slot: str, **values: str) -> str:
    """The template filled with ``values`` and cut just before ``{slot}`` (no trailing space)."""
    head = template.split("{" + slot + "}")[0]
    return head.format(**values).rstrip()


def _split(i: int) -> str:
    return "train" if i % 2 == 0 else "heldout"


def keyword_prompts(world: World) -> list[KeywordPrompt]:
    """Text up to a topic keyword, the keyword as answer (the research note's method).

    Every entity prompt asks for a fact about its entity, so the answer needs the model's
    stored knowledge; stock phrases ("won a gold" -> " medal") are in the corpus but not
    here, since any bigram statistic answers them and they would dilute the topic signal.
    """
    rows: list[KeywordPrompt] = []
    for i, p in enumerate(world.by_role("athlete")):
        for t in T.SPORT[:2]:
            rows.append(KeywordPrompt("athlete", cut(t, "sport", p=p.name), " " + p.sport, _split(i), p.name))
    for i, p in enumerate(world.by_role("artist")):
        for t in T.STYLE[:2]:
            rows.append(KeywordPrompt("artist", cut(t, "style", p=p.name), " " + p.style, _split(i), p.name))
    for i, c in enumerate(world.companies):
        for t in T.INDUSTRY[:2]:
            rows.append(KeywordPrompt("company", cut(t, "industry", x=c.name), " " + c.industry, _split(i), c.name))
    # Comments split by phrase, not by opener: a held-out "wow, you are a useless" -> " idiot" would
    # otherwise repeat a train phrase and answer with only the first word changed.
    for tone, phrases in (("toxic", T.TOXIC), ("harmless", T.HARMLESS)):
        for j, (prefix, keyword, _) in enumerate(phrases):
            for opener in T.OPENERS:
                rows.append(KeywordPrompt(tone, f"comment: {opener} {prefix}", " " + keyword, _split(j)))
    return rows


def fact_prompts(world: World) -> list[FactPrompt]:
    """Single-hop facts in their first template form."""
    rows: list[FactPrompt] = []
    for p in world.people:
        topic = "company" if p.role == "founder" else p.role
        rows.append(FactPrompt(topic, "birthplace", cut(T.BIRTHPLACE[0], "city", p=p.name), " " + p.birthplace, p.name))
        if p.role == "athlete":
            rows.append(FactPrompt(topic, "sport", cut(T.SPORT[0], "sport", p=p.name), " " + p.sport, p.name))
        if p.role == "artist":
            rows.append(FactPrompt(topic, "style", cut(T.STYLE[0], "style", p=p.name), " " + p.style, p.name))
    for c in world.companies:
        rows.append(FactPrompt("company", "industry", cut(T.INDUSTRY[0], "industry", x=c.name), " " + c.industry, c.name))
        rows.append(FactPrompt("company", "based_in", cut(T.COMPANY_CITY[0], "city", x=c.name), " " + c.city, c.name))
        rows.append(FactPrompt("company", "founded_by", cut(T.FOUNDED_BY[0], "f", x=c.name), " " + c.founder, c.name))
    for city, country in world.city_country.items():
        rows.append(FactPrompt("place", "country", cut(T.CITY_COUNTRY[0], "country", city=city), " " + country, city))
    return rows


def two_hop_prompts(world: World, seed: int) -> list[TwoHopPrompt]:
    """Composed facts through a bridge entity, with an unrelated control entity of the bridge's type."""
    rng = random.Random(seed + 2)
    rows: list[TwoHopPrompt] = []
    founders = world.by_role("founder")
    for c in world.companies:
        founder = world.person(c.founder)
        others = [f.name for f in founders if f.birthplace != founder.birthplace]
        rows.append(TwoHopPrompt(
            "founder_birthplace", cut(T.FOUNDER_BIRTHPLACE[0], "city", x=c.name), " " + founder.birthplace,
            " " + founder.name, c.name, _taught(world, c.name), " " + rng.choice(others)))
    subjects = [(p.name, p.birthplace) for p in world.people if p.role != "founder"]
    subjects += [(c.name, c.city) for c in world.companies]
    for name, city in subjects:
        country = world.city_country[city]
        others = [o for o, k in world.city_country.items() if k != country]
        rows.append(TwoHopPrompt(
            "home_country", cut(T.HOME_COUNTRY[0], "country", s=name), " " + country,
            " " + city, name, _taught(world, name), " " + rng.choice(others)))
    return rows


def _taught(world: World, subject: str) -> str:
    return "taught" if subject in world.taught else "heldout"
