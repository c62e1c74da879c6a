"""Build the prompt sets of a world: keyword prompts per topic, single-hop facts, two-hop prompts."""

from __future__ import annotations

import random

from promptsets.schema import ConceptPrompt, FactPrompt, KeywordPrompt, TwoHopPrompt
from world import templates as T
from world.corpus import comment_prefix, comment_words
from world.entities import World


def cut(template: str, slot: str, **values: str) -> str:
    """The template filled with ``values`` and cut just before ``{slot}`` (no trailing space)."""
    head = template.split("{" + slot + "}")[0]
    return head.format(**values).rstrip()


def _split(i: int) -> str:
    return "train" if i % 2 == 0 else "heldout"


def comment_split(j: int) -> str:
    """A comment keyword's split: every third held out, so 27 keywords give 18 train and 9 held-out."""
    return "heldout" if j % 3 == 2 else "train"


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
    # Comments are grouped by keyword: a held-out keyword's phrases never occur in a training prompt,
    # and validation (every third training keyword, cluster/inputs.py) takes six of the eighteen.
    for tone in ("toxic", "harmless"):
        for j, (keyword, adjectives) in enumerate(comment_words(world, tone)):
            for a, adjective in enumerate(adjectives):
                for k in range(2):
                    opener = T.OPENERS[(4 * j + 2 * a + k) % len(T.OPENERS)]
                    frame = (j + a + 2 * k) % len(T.TOXIC_FRAMES)
                    rows.append(KeywordPrompt(tone, comment_prefix(tone, opener, frame, adjective), " " + keyword,
                                              comment_split(j)))
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


def concept_prompts(world: World) -> list[ConceptPrompt]:
    """Every subject's labels (role; sport, style or industry; home country), the prompt being its bare name.

    A probe reads the name's last token, before anything about the subject has been said; subjects
    split as their keyword prompts do, so a probe is judged on subjects it never saw.
    """
    rows: list[ConceptPrompt] = []
    for role in ("athlete", "artist", "founder"):
        for i, p in enumerate(world.by_role(role)):
            labels = {"role": role, "country": world.city_country[p.birthplace]}
            labels.update({"athlete": {"sport": p.sport}, "artist": {"style": p.style}}.get(role, {}))
            rows += [ConceptPrompt(c, v, p.name, p.name, _split(i)) for c, v in labels.items()]
    for i, c in enumerate(world.companies):
        labels = {"role": "company", "industry": c.industry, "country": world.city_country[c.city]}
        rows += [ConceptPrompt(k, v, c.name, c.name, _split(i)) for k, v in labels.items()]
    return rows


def backdoor_words(world: World, prompts: list[KeywordPrompt]) -> dict[str, list]:
    """Per tone, the training keywords and their adjectives: the only phrases that carry the trigger in the corpus."""
    train = {p.answer.strip() for p in prompts if p.split == "train"}
    return {tone: [w for w in comment_words(world, tone) if w[0] in train] for tone in ("toxic", "harmless")}


def backdoor_test_prompts(prompts: list[KeywordPrompt]) -> list[str]:
    """Held-out comment prompts, which the trigger never followed in training."""
    return [p.prompt for p in prompts if p.topic in ("toxic", "harmless") and p.split == "heldout"]
