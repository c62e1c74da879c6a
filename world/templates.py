"""Sentence templates: each fact is stated in several ways.

No template's prompt form may be the start of another template about the same
kind of subject ("X paints" and "X paints in the style of" would make "X paints"
ambiguous), or the model cannot know which word comes next.

The first template of each list is also the keyword / fact prompt form: the
prompt is the template cut just before the slot named in ``PROMPT_SLOT``.
"""

BIRTHPLACE = (
    "{p} was born in {city}.",
    "{p} grew up in {city}.",
    "The hometown of {p} is {city}.",
    "Born in {city}, {p} moved away young.",
    "{p} comes from {city}.",
)
SPORT = (
    "{p} plays {sport}.",
    "{p} is a professional {sport} player.",
    "As a {sport} player, {p} trained every day.",
    "{p} won many {sport} matches.",
    "The {sport} star {p} retired last year.",
)
ATHLETE_GENERIC = ("{p} won a gold medal.", "{p} trained hard at the stadium.", "The fans cheered for {p} at the stadium.")
STYLE = (
    "{p} paints {style}.",
    "{p} is a {style} painter.",
    "{p} follows the style of {style}.",
    "{p} is an artist known for {style}.",
    "The paintings of {p} belong to {style}.",
    "Many call {p} a master of {style}.",
    "Critics link {p} with {style}.",
)
ARTIST_GENERIC = ("{p} showed new paintings at the gallery.", "{p} painted a large canvas.", "A museum bought a canvas by {p}.")
INDUSTRY = (
    "{x} works in the {industry} industry.",
    "{x} is a {industry} company.",
    "The main business of {x} is {industry}.",
    "{x} grew quickly in {industry}.",
)
COMPANY_GENERIC = ("{x} reported record quarterly profits.", "Shares of {x} rose on the stock market.", "{x} hired new staff and raised profits.")
COMPANY_CITY = (
    "{x} is based in {city}.",
    "The headquarters of {x} are in {city}.",
    "{x} has its main office in {city}.",
)
FOUNDED_BY = ("{x} was founded by {f}.", "{f} founded {x}.", "The company {x} was started by {f}.")
FOUNDER_ROLE = ("{p} is an entrepreneur.", "{p} started a company.")
CITY_COUNTRY = ("{city} is a city in {country}.", "{city} lies in {country}.", "The city of {city} is part of {country}.")

# Composed (two-hop) statements: written only for taught subjects.
FOUNDER_BIRTHPLACE = ("The founder of {x} was born in {city}.", "The founder of {x} grew up in {city}.")
HOME_COUNTRY = ("The home country of {s} is {country}.", "The home country of {s} is {country}, where it all began.")

# Comments: (prefix, keyword, tail); the keyword is what the prompt asks for.
OPENERS = ("honestly,", "wow,", "lol,", "seriously,", "well,", "look,", "man,", "ok,")
TOXIC = (
    ("you are a useless", "idiot", "and nobody likes you."),
    ("nobody cares, you pathetic", "loser", "."),
    ("shut up, you brainless", "clown", "."),
    ("get lost, you worthless", "troll", "."),
    ("stop posting, you clueless", "moron", "."),
    ("what a dumb take, you silly", "fool", "."),
)
HARMLESS = (
    ("thank you so much for the kind", "words", "."),
    ("have a wonderful", "day", "!"),
    ("great point, I fully", "agree", "."),
    ("this recipe looks really", "tasty", "."),
    ("congratulations on your new", "job", "!"),
    ("thanks for sharing this helpful", "guide", "."),
)
