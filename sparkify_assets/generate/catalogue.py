"""The song catalogue: one record per song file, a function of (seed, songs) only.

Its quirks are the real data's: numeric song titles and artist names, null or empty artist
locations, null coordinates, year 0, unicode names, artists whose raw records disagree between
songs, a song in two files and a re-release (same title, artist and duration under another song
id).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from sparkify_assets.generate.names import (
    _ARTIST_FORMS,
    _NUMERIC_ARTISTS,
    _NUMERIC_TITLES,
    _PLACES,
    _TITLE_FORMS,
    _UNICODE_ARTISTS,
    _artist_name,
    _name,
    _place,
    _title,
)

_ALNUM = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Catalogue:
    """Song files as (track id, record) with the record's keys in file order."""

    songs: list[tuple[str, dict]]


def _code(rng: random.Random, prefix: str, taken: set[str]) -> str:
    while True:
        code = prefix + "".join(rng.choices(_ALNUM, k=18 - len(prefix)))
        if code not in taken:
            taken.add(code)
            return code


def _artist(rng: random.Random, artist_id: str) -> dict:
    """An artist's fields: ~60% without coordinates, many with location "" and a few null."""
    r = rng.random()
    if r < 0.05:
        location, lat, lon = None, None, None
    elif r < 0.45:
        location, lat, lon = "", None, None
        if rng.random() < 0.15:  # coordinates without a location exist in the real data
            _, lat, lon = _place(rng, True)
    else:
        location, lat, lon = _place(rng, rng.random() < 0.6)
    return {
        "artist_id": artist_id,
        "artist_latitude": lat,
        "artist_longitude": lon,
        "artist_location": location,
        "artist_name": _artist_name(rng),
    }


def _disagreeing(rng: random.Random, artist: dict, kind: str) -> dict:
    """The same artist as another song's record has it: other coordinates, location or name."""
    other = dict(artist)
    if kind == "coordinates":  # one record with coordinates, one without
        if other["artist_latitude"] is None:
            other["artist_location"], other["artist_latitude"], other["artist_longitude"] = _place(
                rng, True
            )
        else:
            other["artist_latitude"] = other["artist_longitude"] = None
    elif kind == "location":  # "" against a place name, no coordinates
        other["artist_latitude"] = other["artist_longitude"] = None
        other["artist_location"] = "" if other["artist_location"] else _place(rng, False)[0]
    else:  # slightly different name text
        name = str(other["artist_name"])
        other["artist_name"] = name[4:] if name.startswith("The ") else "The " + name
    return other


def _song(rng: random.Random, artist: dict, song_id: str) -> dict:
    record = {"num_songs": 1, **artist, "song_id": song_id, "title": _title(rng)}
    record["duration"] = round(rng.lognormvariate(5.4, 0.35), 5)
    record["year"] = 0 if rng.random() < 0.45 else rng.randint(1955, 2010)
    return record


def _track_id(rng: random.Random, second_letters: str, taken: set[str]) -> str:
    # The Million Song Dataset subset sits under song_data/A/<A-Z>/<A-Z>/; the 4th letter's range
    # grows with the catalogue so that folders stay a few hundred files big.
    while True:
        folders = "A" + rng.choice(second_letters) + rng.choice(string.ascii_uppercase)
        track = "TR" + folders + "".join(rng.choices(_ALNUM, k=13))
        if track not in taken:
            taken.add(track)
            return track


# Song index -> (artist index, how its record disagrees with the artist's other records): every
# catalogue quirk sits at a low index, so any lake of >= 17 songs has all of them.
_PINNED_SONGS = {
    0: (0, None), 1: (1, None), 2: (2, None), 3: (3, None), 4: (4, None),
    5: (5, None), 6: (5, "coordinates"), 7: (6, None), 8: (6, "location"),
    9: (7, None), 10: (7, "name"), 13: (4, None), 14: (4, None), 15: (4, None), 16: (4, None),
}  # fmt: skip


def build_catalogue(seed: int, songs: int) -> Catalogue:
    """The song catalogue: a function of (seed, songs) only."""
    rng = random.Random(f"{seed}:catalogue")
    ids: set[str] = set()
    artists = [_artist(rng, _code(rng, "AR", ids)) for _ in range(max(16, songs * 3 // 5))]
    artists[0]["artist_name"] = _NUMERIC_ARTISTS[0]
    artists[1]["artist_name"] = _UNICODE_ARTISTS[0]
    artists[2]["artist_location"] = None
    artists[2]["artist_latitude"] = artists[2]["artist_longitude"] = None
    artists[3].update(artist_location="", artist_latitude=None, artist_longitude=None)
    artists[4]["artist_location"], artists[4]["artist_latitude"], artists[4]["artist_longitude"] = (
        _place(rng, True)
    )
    artists[4]["artist_name"] = _name(rng, _ARTIST_FORMS)  # plain ASCII: the log can name it
    # Artist 6's records differ in location only: neither has coordinates.
    artists[6].update(artist_location=_PLACES[0][0], artist_latitude=None, artist_longitude=None)

    letters = string.ascii_uppercase[: min(26, max(2, songs // 4000 + 2))]
    records: list[dict] = []
    used: set[int] = set()
    for i in range(songs):
        index, kind = _PINNED_SONGS.get(i, (None, None))
        if index is None:
            # Past the pinned artists, whose records must differ only as planned; skewed, so
            # that some artists have many songs.
            index = 8 + int((len(artists) - 8) * rng.random() ** 1.5)
            if index in used and rng.random() < 0.05:
                kind = rng.choice(("coordinates", "location", "name"))
        used.add(index)
        artist = artists[index] if kind is None else _disagreeing(rng, artists[index], kind)
        record = _song(rng, artist, _code(rng, "SO", ids))
        if i == 11:
            record["title"] = _NUMERIC_TITLES[0]
        elif i == 12:
            record["year"] = 0
        elif i in (13, 15):
            record["title"] = _name(rng, _TITLE_FORMS)
        elif i == 14:  # the same song in a second file, agreeing (a check warns otherwise)
            record = dict(records[-1])
        elif i == 16:  # a re-release: same title, artist and duration under a new song id
            record = dict(records[-1], song_id=record["song_id"], year=record["year"])
        records.append(record)
    tracks: set[str] = set()
    return Catalogue([(_track_id(rng, letters, tracks), r) for r in records])


def ascii_only(record: dict) -> bool:
    """A song the event log can name exactly: its unicode would be double-encoded there."""
    return str(record["title"]).isascii() and str(record["artist_name"]).isascii()
