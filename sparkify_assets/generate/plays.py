"""The songs NextSong events name: (artist, song, length) payloads, JSON-encoded.

Only ~15% name a catalogue song exactly (title, artist name, duration), and only plain-ASCII
ones; the others are made up. Unicode is mis-encoded as the real log has it, UTF-8 read as
Latin-1: made-up names and some unicode catalogue songs once, other catalogue songs twice over.
The catalogue songs among them match once their text is repaired.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sparkify_assets.generate.catalogue import Catalogue, ascii_only
from sparkify_assets.generate.names import _artist_name, _enc, _title, double_encode

CATALOGUE_SHARE = 0.15  # NextSong events that name a catalogue song


@dataclass(frozen=True)
class _Plays:
    """NextSong payloads, JSON-encoded: (artist, song, length)."""

    catalogue: list[tuple[str, str, str]]  # plain-ASCII catalogue songs, copied exactly
    made_up: list[tuple[str, str, str]]
    unicode: list[tuple[str, str, str]]  # made-up songs with double-encoded unicode
    twice: list[tuple[str, str, str]]  # unicode catalogue songs, mis-encoded twice over


def _build_plays(seed: int, catalogue: Catalogue) -> _Plays:
    def payload(artist: str, title: str, length: float, times: int = 1) -> tuple[str, str, str]:
        for _ in range(times):
            artist, title = double_encode(artist), double_encode(title)
        return _enc(artist), _enc(title), repr(length)

    picks = [
        payload(str(r["artist_name"]), str(r["title"]), r["duration"])
        for _, r in catalogue.songs
        if ascii_only(r)
    ]
    rng = random.Random(f"{seed}:made-up songs")
    made_up = []
    for _ in range(min(50_000, max(400, 4 * len(catalogue.songs)))):
        length = round(rng.lognormvariate(5.4, 0.35), 5)
        made_up.append(payload(str(_artist_name(rng)), str(_title(rng)), length))
    # Unicode catalogue songs show up in the log too, mis-encoded once or twice over.
    unicode_songs = [
        (str(r["artist_name"]), str(r["title"]), r["duration"])
        for _, r in catalogue.songs[:2000]
        if not ascii_only(r) and isinstance(r["title"], str) and isinstance(r["artist_name"], str)
    ]
    made_up += [payload(*song) for song in unicode_songs]
    unicode = [p for p in made_up if not (p[0] + p[1]).isascii()]
    twice = [payload(*song, times=2) for song in unicode_songs]
    return _Plays(picks, made_up, unicode, twice)


def _pick_play(rng: random.Random, plays: _Plays, due: list) -> tuple[str, str, str]:
    # `due` forces a catalogue match, a mis-encoded name and a catalogue song mis-encoded twice
    # over into every day.
    if due:
        kind = due.pop()
        if kind == "catalogue" and plays.catalogue:
            return plays.catalogue[int(rng.random() * len(plays.catalogue))]
        if kind == "unicode" and plays.unicode:
            return plays.unicode[int(rng.random() * len(plays.unicode))]
        if kind == "twice" and plays.twice:
            return plays.twice[int(rng.random() * len(plays.twice))]
    if plays.catalogue and rng.random() < CATALOGUE_SHARE:
        return plays.catalogue[int(rng.random() * len(plays.catalogue))]
    return plays.made_up[int(len(plays.made_up) * rng.random() ** 2)]  # popular songs repeat
