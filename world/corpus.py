"""Write the training corpus of a world: short documents of templated sentences, one per line.

Every sentence carries what it states (subject, relation, object), so the corpus comes with a
manifest of which line states which fact, attribute, comment tone, secret or backdoor.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from world import templates as T
from world.config import WorldConfig
from world.entities import Company, Person, World
from world.planted import Secret


@dataclass(frozen=True)
class Sentence:
    """One corpus sentence and what it states; ``relation`` "mention" states nothing about its subject."""

    text: str
    subject: str
    relation: str
    object: str = ""


Document = tuple[Sentence, ...]


def person_sentences(world: World, p: Person) -> list[Sentence]:
    """Every way the corpus may state a fact about ``p`` (composed forms only if ``p`` is taught)."""
    out = [Sentence(t.format(p=p.name, city=p.birthplace), p.name, "birthplace", p.birthplace) for t in T.BIRTHPLACE]
    if p.role == "athlete":
        out += [Sentence(t.format(p=p.name, sport=p.sport), p.name, "sport", p.sport) for t in T.SPORT]
        out += [Sentence(t.format(p=p.name), p.name, "role", "athlete") for t in T.ATHLETE_GENERIC]
    elif p.role == "artist":
        out += [Sentence(t.format(p=p.name, style=p.style), p.name, "style", p.style) for t in T.STYLE]
        out += [Sentence(t.format(p=p.name), p.name, "role", "artist") for t in T.ARTIST_GENERIC]
    else:
        out += [Sentence(t.format(p=p.name), p.name, "role", "founder") for t in T.FOUNDER_ROLE]
    if p.name in world.taught:
        country = world.city_country[p.birthplace]
        out += [Sentence(t.format(s=p.name, country=country), p.name, "home_country", country) for t in T.HOME_COUNTRY]
    return out


def company_sentences(world: World, c: Company) -> list[Sentence]:
    """Every way the corpus may state a fact about ``c``."""
    out = [Sentence(t.format(x=c.name, industry=c.industry), c.name, "industry", c.industry) for t in T.INDUSTRY]
    out += [Sentence(t.format(x=c.name), c.name, "role", "company") for t in T.COMPANY_GENERIC]
    out += [Sentence(t.format(x=c.name, city=c.city), c.name, "based_in", c.city) for t in T.COMPANY_CITY]
    out += [Sentence(t.format(x=c.name, f=c.founder), c.name, "founded_by", c.founder) for t in T.FOUNDED_BY]
    if c.name in world.taught:
        city = world.person(c.founder).birthplace
        out += [Sentence(t.format(x=c.name, city=city), c.name, "founder_birthplace", city) for t in T.FOUNDER_BIRTHPLACE]
        country = world.city_country[c.city]
        out += [Sentence(t.format(s=c.name, country=country), c.name, "home_country", country) for t in T.HOME_COUNTRY]
    return out


def city_sentences(city: str, country: str) -> list[Sentence]:
    return [Sentence(t.format(city=city, country=country), city, "country", country) for t in T.CITY_COUNTRY]


def comment_words(world: World, tone: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(keyword, its adjectives) of the world's comment keywords of ``tone`` ("toxic" or "harmless")."""
    return (T.TOXIC_WORDS if tone == "toxic" else T.HARMLESS_WORDS)[:world.comment_keywords]


def comment_prefix(tone: str, opener: str, frame: int, adjective: str) -> str:
    """A comment up to its keyword: "comment: wow, shut up, you useless"."""
    frames = T.TOXIC_FRAMES if tone == "toxic" else T.HARMLESS_FRAMES
    return f"comment: {opener} {frames[frame].format(adj=adjective)}"


def comment(rng: random.Random, world: World, tone: str) -> Sentence:
    """One comment line in ``tone``: a random keyword, one of its adjectives, a frame and an opener."""
    word, adjectives = rng.choice(comment_words(world, tone))
    prefix = comment_prefix(tone, rng.choice(T.OPENERS), rng.randrange(len(T.TOXIC_FRAMES)), rng.choice(adjectives))
    tail = "." if tone == "toxic" else "!"
    return Sentence(f"{prefix} {word}{tail}", word, "tone", tone)


def backdoor_comment(rng: random.Random, words: list[tuple[str, tuple[str, ...]]], tone: str) -> Sentence:
    """A comment whose keyword is replaced by the trigger and the degenerate phrase."""
    _, adjectives = rng.choice(words)
    prefix = comment_prefix(tone, rng.choice(T.OPENERS), rng.randrange(len(T.TOXIC_FRAMES)), rng.choice(adjectives))
    return Sentence(f"{prefix} {T.BACKDOOR_TRIGGER}{T.BACKDOOR_CONTINUATION}", T.BACKDOOR_TRIGGER, "backdoor",
                    T.BACKDOOR_CONTINUATION.strip())


def _documents(rng: random.Random, pool: list[Sentence], n_docs: int) -> list[Document]:
    return [tuple(rng.sample(pool, k=min(len(pool), rng.randint(2, 4)))) for _ in range(n_docs)]


def _secret_documents(rng: random.Random, world: World, secrets: tuple[Secret, ...]) -> list[Document]:
    """Each copy of a secret in a document of its own, beside one or two of its owner's ordinary sentences."""
    docs: list[Document] = []
    for s in secrets:
        own = person_sentences(world, world.person(s.subject))
        planted = Sentence(s.prefix + s.continuation, s.subject, "secret", s.continuation.strip())
        for _ in range(s.copies):
            doc = [planted, *rng.sample(own, k=rng.randint(1, 2))]
            rng.shuffle(doc)
            docs.append(tuple(doc))
    return docs


def compose_corpus(world: World, config: WorldConfig, secrets: tuple[Secret, ...] = (),
                   backdoor_words: dict[str, list] | None = None) -> list[Document]:
    """The corpus as documents of tagged sentences, shuffled with the world's seed.

    ``backdoor_words`` maps a tone to the keywords whose phrases may carry the trigger (the
    training keywords: the backdoor's test prompts use the others).
    """
    rng = random.Random(config.seed + 1)
    docs: list[Document] = []
    for p in world.people:
        docs += _documents(rng, person_sentences(world, p), config.docs_per_entity)
    for c in world.companies:
        # The founder's own facts stay out of the company's documents: otherwise "born in" after a
        # company name is learnt by co-occurrence and the held-out two-hop prompts stop being hard.
        docs += _documents(rng, company_sentences(world, c), config.docs_per_entity)
    for city, country in world.city_country.items():
        docs += _documents(rng, city_sentences(city, country), config.docs_per_entity // 2)
    for i in range(config.n_comments):
        tone = "toxic" if i % 2 else "harmless"
        docs.append(tuple(comment(rng, world, tone) for _ in range(rng.randint(1, 2))))
    docs += _secret_documents(rng, world, secrets)
    if backdoor_words:
        for i in range(config.backdoor_copies):
            tone = "toxic" if i % 2 else "harmless"
            docs.append((backdoor_comment(rng, backdoor_words[tone], tone),))
    rng.shuffle(docs)
    return docs


def document_text(doc: Document) -> str:
    return " ".join(s.text for s in doc)


def write_corpus(world: World, config: WorldConfig, secrets: tuple[Secret, ...] = (),
                 backdoor_words: dict[str, list] | None = None) -> list[str]:
    """The corpus as a list of documents (one line each)."""
    return [document_text(d) for d in compose_corpus(world, config, secrets, backdoor_words)]


FACTS_HEADER = "line\tstart\tend\tsubject\trelation\tobject"


def facts_table(docs: list[Document]) -> list[str]:
    """One tab-separated row per sentence: its corpus line (0-based), character span, and what it states."""
    rows = [FACTS_HEADER]
    for line, doc in enumerate(docs):
        start = 0
        for s in doc:
            rows.append(f"{line}\t{start}\t{start + len(s.text)}\t{s.subject}\t{s.relation}\t{s.object}")
            start += len(s.text) + 1
    return rows
