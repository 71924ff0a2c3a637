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
import sys
from collections.abc import Iterable
from datetime import date
from urllib.parse import urlparse

from sparkify_assets.generate.catalogue import Catalogue, ascii_only, build_catalogue
from sparkify_assets.generate.events import DAY_MS, EVENT_KEYS, _day_lines
from sparkify_assets.generate.names import _enc, double_encode
from sparkify_assets.generate.plays import CATALOGUE_SHARE, _build_plays
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

JSONPATHS_FILE = "log_json_path.json"


def song_key(track_id: str) -> str:
    return f"song_data/{track_id[2]}/{track_id[3]}/{track_id[4]}/{track_id}.json"


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
