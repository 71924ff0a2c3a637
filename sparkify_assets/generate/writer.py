"""The lake's layout, and `generate_lake` writing it to a folder or an s3://bucket/prefix.

Layout, as in the real dataset:

- ``song_data/A/B/C/TRABC....json``: one song per file, one JSON object on one line; the folders
  are the 3rd, 4th and 5th characters of the track id.
- ``log_data/YYYY/MM/YYYY-MM-DD-events.json``: JSON lines, one app event per line, sorted by ts.
- ``log_json_path.json``: the Redshift JSONPaths file for the events.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import date
from urllib.parse import urlparse

from sparkify_assets.generate.catalogue import build_catalogue
from sparkify_assets.generate.events import EVENT_KEYS, _day_lines
from sparkify_assets.generate.names import _enc
from sparkify_assets.generate.plays import _build_plays
from sparkify_assets.generate.users import build_users

JSONPATHS_FILE = "log_json_path.json"


def song_key(track_id: str) -> str:
    return f"song_data/{track_id[2]}/{track_id[3]}/{track_id[4]}/{track_id}.json"


def events_key(day: date) -> str:
    return f"log_data/{day:%Y/%m}/{day.isoformat()}-events.json"


def jsonpaths() -> str:
    return json.dumps({"jsonpaths": [f"$['{key}']" for key in EVENT_KEYS]}, indent=2) + "\n"


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
