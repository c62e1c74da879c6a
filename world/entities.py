"""A seeded synthetic world: invented people, companies and places, and the facts that tie them.

Names are invented from syllables so that no fact is about a real person or
place; topic vocabulary (sports, art styles, industries) is real English, so
the topics are easy to read in the app.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from world.config import WorldConfig

SPORTS = ("tennis", "football", "cricket", "rugby", "hockey", "golf", "boxing", "cycling")
STYLES = ("cubism", "baroque", "surrealism", "realism", "minimalism", "futurism", "impressionism", "expressionism")
INDUSTRIES = ("shipping", "mining", "banking", "software", "textiles", "farming", "aviation", "insurance")

_ONSETS = ("b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr",
           "kr", "tr", "st", "th", "sh")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ei", "ou")
_CODAS = ("", "", "n", "r", "l", "s", "th", "x", "nd", "rk")


@dataclass(frozen=True)
class Person:
    name: str
    role: str  # "athlete", "artist" or "founder"
    birthplace: str
    sport: str = ""
    style: str = ""


@dataclass(frozen=True)
class Company:
    name: str
    industry: str
    city: str
    founder: str


@dataclass(frozen=True)
class World:
    """Everything the corpus and the prompt sets are written from."""

    countries: tuple[str, ...]
    city_country: dict[str, str]
    people: tuple[Person, ...]
    companies: tuple[Company, ...]
    taught: frozenset[str]  # subjects whose composed (two-hop) statements are in the corpus
    comment_keywords: int = 27  # keywords per comment tone

    def by_role(self, role: str) -> list[Person]:
        return [p for p in self.people if p.role == role]

    def person(self, name: str) -> Person:
        return next(p for p in self.people if p.name == name)


def _names(rng: random.Random, n: int, syllables: int, taken: set[str], suffixes: tuple[str, ...] = ("",)) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)]
        name = ("".join(parts) + rng.choice(_CODAS) + rng.choice(suffixes)).capitalize()
        if 5 <= len(name) <= 10 and name not in taken:
            taken.add(name)
            out.append(name)
    return out


def generate_world(config: WorldConfig) -> World:
    """The world for ``config``; the same config always gives the same world."""
    rng = random.Random(config.seed)
    taken: set[str] = set()
    countries = tuple(_names(rng, config.n_countries, 2, taken, ("ia", "and", "ora")))
    cities = _names(rng, config.n_cities, 2, taken, ("", "ton", "burg", "ville"))
    city_country = {c: countries[i % len(countries)] for i, c in enumerate(cities)}
    people: list[Person] = []
    for name in _names(rng, config.n_athletes, 2, taken):
        people.append(Person(name, "athlete", rng.choice(cities), sport=rng.choice(SPORTS)))
    for name in _names(rng, config.n_artists, 2, taken):
        people.append(Person(name, "artist", rng.choice(cities), style=rng.choice(STYLES)))
    founders = _names(rng, config.n_companies, 2, taken)
    for name in founders:
        people.append(Person(name, "founder", rng.choice(cities)))
    companies = tuple(
        Company(name, rng.choice(INDUSTRIES), rng.choice(cities), founder)
        for name, founder in zip(_names(rng, config.n_companies, 2, taken, ("ex", "ix", "co", "tek")), founders)
    )
    subjects = [c.name for c in companies] + [p.name for p in people if p.role != "founder"]
    taught = frozenset(s for s in subjects if rng.random() < config.taught_fraction)
    return World(countries, city_country, tuple(people), companies, taught, config.comment_keywords)
