"""Deterministic generator of Sparkify raw data (the lake the warehouse loads).

Layout, as in the real dataset:

- ``song_data/A/B/C/TRABC....json``: one song per file, one JSON object on one line; the folders
  are the 3rd, 4th and 5th characters of the track id.
- ``log_data/YYYY/MM/YYYY-MM-DD-events.json``: JSON lines, one app event per line, sorted by ts.
- ``log_json_path.json``: the Redshift JSONPaths file for the events.

The real data's quirks are reproduced (docs/tables.md has the rules they exercise): numeric song
titles and artist names, null or empty artist locations, null coordinates, year 0, unicode names,
artists whose raw records disagree between songs, a song in two files and a re-release (same
title, artist and duration under another song id); in the log, logged-out events (userId "",
no names), unicode double-encoded the way the real log has it ("TÃº" for "Tú"), users moving
between free and paid, different users at the same millisecond, and NextSong events of which
only ~15% name a catalogue song exactly (title, artist name, duration).

Everything is a function of the arguments: a day's events depend only on the seed, the date, the
song catalogue and the users, so a lake can be extended day by day with identical results.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlparse

from sparkify_assets.generate.catalogue import Catalogue, ascii_only, build_catalogue
from sparkify_assets.generate.names import _enc, double_encode
from sparkify_assets.generate.plays import CATALOGUE_SHARE, _build_plays, _pick_play, _Plays
from sparkify_assets.generate.users import User, build_users

__all__ = [
    "CATALOGUE_SHARE",
    "DAY_MS",
    "EVENT_KEYS",
    "JSONPATHS_FILE",
    "Catalogue",
    "User",
    "ascii_only",
    "build_catalogue",
    "build_users",
    "double_encode",
    "events_key",
    "generate_lake",
    "jsonpaths",
    "main",
    "song_key",
]

EVENT_KEYS = (
    "artist", "auth", "firstName", "gender", "itemInSession", "lastName", "length", "level",
    "location", "method", "page", "registration", "sessionId", "song", "status", "ts",
    "userAgent", "userId",
)  # fmt: skip
JSONPATHS_FILE = "log_json_path.json"
DAY_MS = 86_400_000

# Compact event lines like the real log; the key order above. Everything but ts is filled in
# first, because ts is decided after the whole day is planned (see _align_two_users).
_EVENT_HEAD = (
    '{"artist":%s,"auth":"%s","firstName":%s,"gender":%s,"itemInSession":%d,"lastName":%s,'
    '"length":%s,"level":"%s","location":%s,"method":"%s","page":"%s","registration":%s,'
    '"sessionId":%d,"song":%s,"status":%d,"ts":'
)
_EVENT_TAIL = ',"userAgent":%s,"userId":%s}'


# page -> (method, status); Logout, Login and the Submit pages redirect (307) as in the real log.
_PAGES = {
    "NextSong": ("PUT", 200), "Home": ("GET", 200), "Login": ("PUT", 307),
    "Logout": ("PUT", 307), "Settings": ("GET", 200), "Save Settings": ("PUT", 307),
    "About": ("GET", 200), "Help": ("GET", 200), "Upgrade": ("GET", 200),
    "Submit Upgrade": ("PUT", 307), "Downgrade": ("GET", 200), "Submit Downgrade": ("PUT", 307),
    "Error": ("GET", 404),
}  # fmt: skip
# Logged-in pages other than NextSong, weighted by repetition; "Plan" is Upgrade for a free user
# and Downgrade for a paid one.
_OTHER_PAGES = ("Home",) * 10 + ("Settings", "Settings", "Save Settings", "About", "Help", "Help")
_OTHER_PAGES += ("Plan", "Plan", "Error")
_LOGGED_OUT_PAGES = ("Home", "Home", "About", "Help")


def song_key(track_id: str) -> str:
    return f"song_data/{track_id[2]}/{track_id[3]}/{track_id[4]}/{track_id}.json"


# --- events ------------------------------------------------------------------------------------


@dataclass
class _Session:
    user: User
    size: int
    submits: bool  # this session holds the user's Submit Upgrade/Downgrade of the day
    signs_in: bool = False  # starts logged out (Home, Login): forced once a day
    slot: int = 0  # the user's n-th session of the day: sessions get disjoint windows
    slots: int = 1
    heads: list[str] | None = None  # rendered events but for ts
    tails: list[str] | None = None
    gaps: list[int] | None = None  # ms from each event to the next
    start: int = 0


def _plan_sessions(rng: random.Random, users: list[User], ordinal: int, events: int) -> list:
    """Session sizes adding up to `events`; users changing level today come first."""
    sessions = []
    total = 0
    for user in users:
        # At most half the day goes to level changes, so that ordinary sessions always exist.
        if user.level(ordinal - 1) != user.level(ordinal) and events // 2 - total >= 4:
            size = min(max(4, _session_size(rng)), events // 2 - total)
            sessions.append(_Session(user, size, True))
            total += size
    signs_in = True  # the day's first ordinary session has logged-out events
    while total < events:
        user = users[int(len(users) * rng.random() ** 2)]  # some users are much busier
        size = _session_size(rng)
        sessions.append(_Session(user, max(4, size) if signs_in else size, False, signs_in))
        total += sessions[-1].size
        signs_in = False
    if total > events:
        sessions[-1].size -= total - events
    per_user: dict[str, list[_Session]] = {}
    for session in sessions:
        per_user.setdefault(session.user.user_id, []).append(session)
    for mine in per_user.values():
        for slot, session in enumerate(mine):
            session.slot, session.slots = slot, len(mine)
    return sessions


def _session_size(rng: random.Random) -> int:
    return min(150, 1 + int(rng.expovariate(1 / 12)))


def _session_pages(rng: random.Random, session: _Session) -> list[tuple[str, bool]]:
    """(page, logged in) for each event of a session."""
    size = session.size
    need = 3 if session.submits else 1  # Plan, Submit and an event at the new level
    head = []
    if size - 2 >= need and (rng.random() < 0.17 or session.signs_in):
        head = [("Home", False), ("Login", False)]
    tail = []
    if size - len(head) > need and rng.random() < 0.13:
        tail = [("Logout", True)]
        tail += [(rng.choice(_LOGGED_OUT_PAGES), False) for _ in range(rng.randint(0, 2))]
        tail = tail[: size - len(head) - need]
    body = size - len(head) - len(tail)
    pages = []
    for _ in range(body):
        if rng.random() < 0.84:
            pages.append(("NextSong", True))
        else:
            pages.append((_OTHER_PAGES[int(rng.random() * len(_OTHER_PAGES))], True))
    if session.submits:
        at = rng.randrange(body - 2)
        pages[at : at + 2] = [("Plan", True), ("Submit", True)]
    return head + pages + tail


def _render_session(
    rng: random.Random, session: _Session, ordinal: int, session_id: int, plays: _Plays, due: list
) -> None:
    """Fill in the session's events (all but ts) and the gaps between them."""
    user = session.user
    # Only the submitting session (the user's first today) starts at yesterday's level; when a
    # user's change has no session today, it happened unseen.
    before, after = user.level(ordinal - 1), user.level(ordinal)
    level = before if session.submits else after
    signed_in = (
        _enc(user.first_name), f'"{user.gender}"', _enc(user.last_name), _enc(user.location),
        repr(user.registration),
    )  # fmt: skip
    tail_in = _EVENT_TAIL % (_enc(user.user_agent), f'"{user.user_id}"')
    tail_out = _EVENT_TAIL % ("null", '""')
    heads, tails, gaps = [], [], []
    for item, (page, logged_in) in enumerate(_session_pages(rng, session)):
        if page == "Plan":
            page = "Upgrade" if level == "free" else "Downgrade"
        elif page == "Submit":
            page = "Submit Upgrade" if level == "free" else "Submit Downgrade"
        artist = song = length = "null"
        if page == "NextSong":
            artist, song, length = _pick_play(rng, plays, due)
            gap = int(float(length) * 1000) + rng.randint(0, 3000)
        else:
            gap = rng.randint(1_000, 90_000)
        first, gender, last, location, registration = signed_in if logged_in else ("null",) * 5
        method, status = _PAGES[page]
        heads.append(
            _EVENT_HEAD
            % (artist, "Logged In" if logged_in else "Logged Out", first, gender, item, last,
               length, level, location, method, page, registration, session_id, song, status)
        )  # fmt: skip
        tails.append(tail_in if logged_in else tail_out)
        gaps.append(gap)
        if page.startswith("Submit"):  # the new level holds from the next event on
            level = after
    session.heads, session.tails, session.gaps = heads, tails, gaps


def _place_session(rng: random.Random, session: _Session, day_start: int) -> None:
    """Start time inside the session's window, squeezing the gaps if it would not fit."""
    window = DAY_MS // session.slots
    gaps = session.gaps
    span = sum(gaps[:-1])
    if span >= window:
        scale = max(0.0, (window - len(gaps)) / span)
        gaps[:-1] = [1 + int(g * scale) for g in gaps[:-1]]
        span = sum(gaps[:-1])
    session.start = day_start + session.slot * window + int(rng.random() * (window - span))


def _align_two_users(sessions: list[_Session], day_start: int) -> None:
    """Move one session so that two different users have events at the same millisecond."""
    signed_in = [s for s in sessions if '"auth":"Logged In"' in s.heads[0]]
    for first in signed_in[:20]:
        for other in signed_in:
            if other.user is first.user:
                continue
            window = DAY_MS // other.slots
            low = day_start + other.slot * window
            if low <= first.start and first.start + sum(other.gaps[:-1]) < low + window:
                other.start = first.start
                return


def _day_lines(seed: int, day: date, events: int, users: list[User], plays: _Plays) -> list[str]:
    """The event lines of one day, sorted by ts: a function of its arguments only."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    ordinal = day.toordinal()
    day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000
    sessions = _plan_sessions(rng, users, ordinal, events)
    due = ["unicode", "catalogue"]
    for number, session in enumerate(sessions):
        # Unique across days: 100,000 sessions a day, ~55 years before ids repeat (INTEGER).
        session_id = (ordinal % 20_000) * 100_000 + number
        _render_session(rng, session, ordinal, session_id, plays, due)
        _place_session(rng, session, day_start)
    _align_two_users(sessions, day_start)
    rows = []
    for number, session in enumerate(sessions):
        ts = session.start
        for item, (head, tail, gap) in enumerate(
            zip(session.heads, session.tails, session.gaps, strict=True)
        ):
            rows.append((ts, number, item, head, tail))
            ts += gap
    rows.sort()
    return [f"{head}{ts}{tail}" for ts, _, _, head, tail in rows]


def events_key(day: date) -> str:
    return f"log_data/{day:%Y/%m}/{day.isoformat()}-events.json"


def jsonpaths() -> str:
    return json.dumps({"jsonpaths": [f"$['{key}']" for key in EVENT_KEYS]}, indent=2) + "\n"


# --- writing -----------------------------------------------------------------------------------


class _Sink:
    """Writes objects under a folder or an s3://bucket/prefix, counting bytes."""

    def __init__(self, dest: str, endpoint_url: str | None) -> None:
        self.bytes = 0
        self._folders: set[str] = set()
        if dest.startswith("s3://"):
            import boto3  # only needed for S3

            url = urlparse(dest)
            self.bucket, prefix = url.netloc, url.path.strip("/")
            self.prefix = f"{prefix}/" if prefix else ""
            endpoint = endpoint_url or os.environ.get("SPARKIFY_S3_ENDPOINT_URL") or None
            self._s3 = boto3.client("s3", endpoint_url=endpoint)
        else:
            self.root, self._s3 = os.path.abspath(os.path.expanduser(dest)), None

    def put(self, key: str, text: str) -> None:
        data = text.encode("utf-8")
        self.bytes += len(data)
        if self._s3 is not None:
            self._s3.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
            return
        path = os.path.join(self.root, key)
        folder = os.path.dirname(path)
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        with open(path, "wb") as out:
            out.write(data)


def generate_lake(
    dest: str | os.PathLike,
    *,
    songs: int = 300,
    users: int = 60,
    days: int = 7,
    events_per_day: int = 300,
    start: date = date(2018, 11, 1),
    seed: int = 42,
    what: Iterable[str] = ("songs", "events"),
    endpoint_url: str | None = None,
) -> dict[str, int]:
    """Write a Sparkify lake to a folder or s3://bucket/prefix; returns what was written.

    Events need the catalogue, so `songs` matters even when only events are written.
    """
    what = set(what)
    if not what <= {"songs", "events"}:
        raise ValueError(f"what must name 'songs' and/or 'events', not {sorted(what)}")
    if min(songs, days, events_per_day) < 0 or users < 1:
        raise ValueError("songs, days and events_per_day must be >= 0, users >= 1")
    sink = _Sink(os.fspath(dest), endpoint_url)
    catalogue = build_catalogue(seed, songs)
    summary = {"song_files": 0, "event_files": 0, "events": 0}
    if "songs" in what:
        for track_id, record in catalogue.songs:
            sink.put(song_key(track_id), _enc(record))
        summary["song_files"] = len(catalogue.songs)
    if "events" in what and days > 0:
        population = build_users(seed, users)
        plays = _build_plays(seed, catalogue)
        sink.put(JSONPATHS_FILE, jsonpaths())
        for offset in range(days):
            day = date.fromordinal(start.toordinal() + offset)
            lines = _day_lines(seed, day, events_per_day, population, plays)
            sink.put(events_key(day), "\n".join(lines) + "\n" if lines else "")
            summary["event_files"] += 1
            summary["events"] += len(lines)
    summary["bytes"] = sink.bytes
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sparkify_assets.generate",
        description="Write a deterministic Sparkify lake (song_data/, log_data/ and "
        "log_json_path.json) to a folder or s3://bucket/prefix. Same arguments, same bytes; a "
        "day's events do not depend on --start or --days, so a lake can be extended day by day.",
    )
    parser.add_argument("--out", required=True, help="folder or s3://bucket/prefix")
    parser.add_argument("--songs", type=int, default=300, help="song files (default 300)")
    parser.add_argument("--users", type=int, default=60, help="user population (default 60)")
    parser.add_argument("--days", type=int, default=7, help="days of events (default 7)")
    parser.add_argument(
        "--events-per-day", type=int, default=300, help="events in each day (default 300)"
    )
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2018, 11, 1),
        help="first day, YYYY-MM-DD (default 2018-11-01)",
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--only",
        choices=("songs", "events"),
        help="write only the songs or only the events (events still need --songs: they name "
        "catalogue songs)",
    )
    parser.add_argument(
        "--endpoint-url",
        help="S3 endpoint (default: $SPARKIFY_S3_ENDPOINT_URL, else AWS); credentials come "
        "from boto3's usual chain",
    )
    args = parser.parse_args(argv)
    summary = generate_lake(
        args.out,
        songs=args.songs,
        users=args.users,
        days=args.days,
        events_per_day=args.events_per_day,
        start=args.start,
        seed=args.seed,
        what=(args.only,) if args.only else ("songs", "events"),
        endpoint_url=args.endpoint_url,
    )
    json.dump(summary, sys.stdout)
    print()
    return 0
