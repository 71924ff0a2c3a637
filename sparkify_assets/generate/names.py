"""Name pools (words, people, places, user agents) and how the raw data spells unicode.

Song files hold unicode as is, in JSON with the real ", " / ": " spacing; the log has it
double-encoded, as the real log does ("TÃº" for "Tú"). Titles and artist names drawn from the
pools are now and then numeric or unicode, as in the real data.
"""

from __future__ import annotations

import json
import random

_enc = json.JSONEncoder(ensure_ascii=False).encode  # song files: the real ", " / ": " spacing

_WORDS = (
    "Love Night Heart Fire Rain Dream Blue Gold Summer Stone River Shadow Light Road Home Sky "
    "Baby Girl Boy Time Life Dance Money Sun Moon Star Wild Sweet Cold Heaven Devil Angel City "
    "Ocean Midnight Morning Kiss Tears Highway Train Radio Rock Soul Blues Song Ghost Paper "
    "Silver Glass Winter Crazy Lonely Broken Hollow Electric Velvet Thunder Honey Whiskey Diamond "
    "Mirror Garden Echo Rebel Empire Secret Golden Little Lost Magic Neon Orange Purple Queen "
    "Rose Saint Tiger Wolf Yellow Zero Desert Storm Window Island Machine Wonder Fever Memory"
).split()
_TITLE_FORMS = ("{a}", "{a} {b}", "The {a}", "{a} of {b}", "{a} {b} {c}", "My {a}", "{a} ({b} Mix)")
_ARTIST_FORMS = ("{a} {b}", "The {a}s", "{a}", "{a} & The {b}s", "DJ {a}", "{a} {b} Band")
_FIRST_NAMES = {
    "M": "Jacob Ryan Kevin Tegan Walter Aiden Noah Liam Ethan Mason Lucas Caleb Wyatt Jordan "
    "Cole Dustin Jayden Jizelle Samuel Alan Sean Matthew Isaac Sebastian".split(),
    "F": "Lily Chloe Kate Ava Mia Sara Layla Olivia Emily Harper Kinsley Jacqueline Rylan "
    "Stefany Cecilia Anabelle Avery Madison Lucero Katherine Elijah Hannah Morgan Tiffany".split(),
}
_LAST_NAMES = (
    "Koch Cuevas Klein Smith Lynch Harrell Levine Garrison Carter Roberts Taylor Owens Reed "
    "Williams Thompson Rodriguez Moore Rios Jones Lee Hill Hayes Morris Duffy Daniels Gonzalez"
).split()
_UNICODE_ARTISTS = (
    "Tú", "Björk", "Sigur Rós", "Beyoncé", "Motörhead", "Mötley Crüe", "Ólafur Arnalds",
    "Jóhann Jóhannsson", "Hélène Ségara", "Café Tacvba", "Maná", "Röyksopp", "宇多田ヒカル",
    "坂本龍一", "Françoise Hardy", "Zoé", "Édith Piaf", "Mägo de Oz",
)  # fmt: skip
_UNICODE_TITLES = (
    "Corazón", "Déjà Vu", "Für Elise", "Señorita", "Über Alles", "Noël", "Café del Mar",
    "Niño Bonito", "東京", "さくら", "Hoppípolla", "Jökull", "Ça plane pour moi", "Canción",
)  # fmt: skip
_NUMERIC_ARTISTS = (311, 702, 112, 1200, 2000)
_NUMERIC_TITLES = (1888, 1979, 2012, 45, 99, 1969, 7, 21, 1901, 1984)
# Artist locations with coordinates; some names are unicode, as in the Million Song Dataset.
_PLACES = (
    ("Memphis, TN", 35.14968, -90.04892), ("London, England", 51.50632, -0.12714),
    ("New York, NY", 40.71455, -74.00712), ("Los Angeles, CA", 34.05349, -118.24532),
    ("Chicago, IL", 41.88415, -87.63241), ("Reykjavík, Iceland", 64.13548, -21.89541),
    ("Tokyo, Japan", 35.68949, 139.69171), ("São Paulo, Brazil", -23.5475, -46.63611),
    ("Montréal, Québec, Canada", 45.50884, -73.58781), ("Stockholm, Sweden", 59.33217, 18.06243),
    ("Kingston, Jamaica", 17.99702, -76.79358), ("Seattle, WA", 47.60356, -122.32944),
    ("Nashville, TN", 36.16778, -86.77836), ("Detroit, MI", 42.33168, -83.04792),
    ("Paris, France", 48.85693, 2.3412), ("Berlin, Germany", 52.51607, 13.37698),
    ("Bogotá, Colombia", 4.59638, -74.08175), ("Dublin, Ireland", 53.34376, -6.24953),
    ("California - LA", 34.05349, -118.24532), ("Hamilton, Ohio", 39.39964, -84.56131),
)  # fmt: skip
_USER_LOCATIONS = (
    "San Jose-Sunnyvale-Santa Clara, CA", "New York-Newark-Jersey City, NY-NJ-PA",
    "Los Angeles-Long Beach-Anaheim, CA", "Chicago-Naperville-Elgin, IL-IN-WI",
    "Atlanta-Sandy Springs-Roswell, GA", "Houston-The Woodlands-Sugar Land, TX",
    "Portland-Vancouver-Hillsboro, OR-WA", "San Francisco-Oakland-Hayward, CA",
    "Lansing-East Lansing, MI", "Waterloo-Cedar Falls, IA", "Birmingham-Hoover, AL",
    "Tampa-St. Petersburg-Clearwater, FL", "Marinette, WI-MI", "Winston-Salem, NC",
    "Red Bluff, CA", "Detroit-Warren-Dearborn, MI", "Janesville-Beloit, WI",
    "Sacramento--Roseville--Arden-Arcade, CA", "Lake Havasu City-Kingman, AZ",
    "Augusta-Richmond County, GA-SC", "Phoenix-Mesa-Scottsdale, AZ", "Salinas, CA",
)  # fmt: skip
# As in the real log, many agents carry their own double quotes (and all have commas or ';').
_USER_AGENTS = (
    '"Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.143 Safari/537.36"',
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Chrome/36.0.1985.125 Safari/537.36"',
    "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:31.0) Gecko/20100101 Firefox/31.0",
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_4) AppleWebKit/537.77.4 (KHTML, like Gecko) '
    'Version/7.0.5 Safari/537.77.4"',
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.9; rv:31.0) Gecko/20100101 Firefox/31.0",
    '"Mozilla/5.0 (iPhone; CPU iPhone OS 7_1_2 like Mac OS X) AppleWebKit/537.51.2 '
    '(KHTML, like Gecko) Version/7.0 Mobile/11D257 Safari/9537.53"',
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; WOW64; Trident/6.0)",
    '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) '
    'Ubuntu Chromium/36.0.1985.125 Chrome/36.0.1985.125 Safari/537.36"',
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:31.0) Gecko/20100101 Firefox/31.0",
)


def _name(rng: random.Random, forms: tuple[str, ...]) -> str:
    a, b, c = rng.sample(_WORDS, 3)
    return rng.choice(forms).format(a=a, b=b, c=c)


def _artist_name(rng: random.Random) -> str | int:
    r = rng.random()
    if r < 0.02:
        return rng.choice(_NUMERIC_ARTISTS)
    if r < 0.08:
        return rng.choice(_UNICODE_ARTISTS)
    return _name(rng, _ARTIST_FORMS)


def _title(rng: random.Random) -> str | int:
    r = rng.random()
    if r < 0.02:
        return rng.choice(_NUMERIC_TITLES)
    if r < 0.07:
        return rng.choice(_UNICODE_TITLES) + rng.choice(("", "", " (Live)", " II"))
    return _name(rng, _TITLE_FORMS)


def _place(rng: random.Random, with_coordinates: bool) -> tuple[str, float | None, float | None]:
    location, lat, lon = rng.choice(_PLACES)
    if not with_coordinates:
        return location, None, None
    return location, round(lat + rng.uniform(-0.3, 0.3), 5), round(lon + rng.uniform(-0.3, 0.3), 5)


def double_encode(text: str) -> str:
    """How the real log spells unicode: its UTF-8 bytes read as Latin-1 ("Tú" -> "TÃº")."""
    return text.encode("utf-8").decode("latin-1")
