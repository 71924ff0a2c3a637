"""What every warehouse table must hold for a lake folder: docs/tables.md re-implemented in
plain Python, independently of `sql/`, so the tests can compare the two."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import math
import os
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

SMALLINT = (-(2**15), 2**15 - 1)
INTEGER = (-(2**31), 2**31 - 1)
BIGINT = (-(2**63), 2**63 - 1)


class Rejected(Exception):
    """The record may not be staged: it lands in staging_rejects instead."""


# --- column types (tables.md, "Staging") -------------------------------------------------------


def number_in(text: str) -> int | float:
    """The number a string holds ("a string holding one"); "", "nan", "inf", "1_0" hold none."""
    text = text.strip()
    if not text.isascii() or "_" in text:  # int()/float() also read "1_0" and non-ASCII digits
        raise Rejected
    for parse in (int, float):  # int first: exact for large whole numbers
        try:
            number = parse(text)
        except ValueError:
            continue
        if math.isfinite(number):
            return number
    raise Rejected


def text(size: int):
    """VARCHAR(size): strings as is, other JSON values as their text; too long is rejected."""

    def convert(value) -> str:
        if isinstance(value, str):
            out = value
        elif isinstance(value, bool):  # before int: bool is an int in Python
            out = "true" if value else "false"
        elif isinstance(value, int):
            out = str(value)  # title 1888 becomes '1888'
        elif isinstance(value, float):
            out = repr(value)
        else:
            out = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if len(out.encode("utf-8")) > size:  # n counts UTF-8 bytes, not characters
            raise Rejected
        return out

    return convert


def whole(bounds: tuple[int, int]):
    """SMALLINT/INTEGER/BIGINT: integral numbers (1540344794796.0 too) within range."""

    def convert(value) -> int:
        if isinstance(value, str):
            value = number_in(value)
        if isinstance(value, float):
            if not (math.isfinite(value) and value.is_integer()):
                raise Rejected  # a fraction such as 1.5
            value = int(value)
        if type(value) is not int or not bounds[0] <= value <= bounds[1]:  # bool is no number
            raise Rejected
        return value

    return convert


def double(value) -> float:
    """DOUBLE PRECISION: a finite number, or a string holding one, at full precision."""
    if isinstance(value, str):
        value = number_in(value)
    if type(value) not in (int, float):  # a boolean is not a number
        raise Rejected
    try:
        number = float(value)
    except OverflowError:  # an integer beyond the double range
        raise Rejected from None
    if not math.isfinite(number):
        raise Rejected
    return number


# JSON key -> conversion, in column order; each column is named as its key in lower case.
EVENT_COLUMNS = {
    "artist": text(512), "auth": text(32), "firstName": text(256), "gender": text(16),
    "itemInSession": whole(INTEGER), "lastName": text(256), "length": double,
    "level": text(16), "location": text(512), "method": text(16), "page": text(64),
    "registration": whole(BIGINT), "sessionId": whole(INTEGER), "song": text(512),
    "status": whole(SMALLINT), "ts": whole(BIGINT), "userAgent": text(512), "userId": text(32),
}  # fmt: skip
SONG_COLUMNS = {
    "num_songs": whole(INTEGER), "artist_id": text(32), "artist_latitude": double,
    "artist_longitude": double, "artist_location": text(512), "artist_name": text(512),
    "song_id": text(32), "title": text(512), "duration": double, "year": whole(SMALLINT),
}  # fmt: skip
TABLES = {
    "log_data": ("staging_events", EVENT_COLUMNS, ("ts", "sessionid", "iteminsession", "page")),
    "song_data": ("staging_songs", SONG_COLUMNS, ("song_id", "artist_id")),
}


# --- objects and records -----------------------------------------------------------------------


def data_objects(lake: str) -> list[tuple[str, str]]:
    """(key, path) of each data object: non-empty `.json` or `.json.gz` under song_data/ or
    log_data/."""
    found = []
    for folder, _, names in os.walk(lake):
        for name in names:
            path = os.path.join(folder, name)
            key = os.path.relpath(path, lake).replace(os.sep, "/")
            is_data = key.split("/")[0] in TABLES and key.endswith((".json", ".json.gz"))
            # neither the JSONPaths file nor an empty object is data
            if is_data and name != "log_json_path.json" and os.path.getsize(path) > 0:
                found.append((key, path))
    return sorted(found)


def strict_json(raw: str):
    """json.loads without Python's NaN/Infinity extensions, which are not JSON."""

    def no_constant(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(raw, parse_constant=no_constant)


def records(content: str) -> list[tuple[int, str]]:
    """(line, raw text): one JSON value is one record at line 1, else JSON lines."""
    try:
        strict_json(content)  # json.loads itself ignores surrounding JSON whitespace
        return [(1, content)]
    except (ValueError, RecursionError):
        pass
    out = []
    for number, line in enumerate(content.split("\n"), start=1):  # not splitlines(): \n only
        line = line.removesuffix("\r")
        if line.strip(" \t\r"):  # blank lines are skipped but keep their number
            out.append((number, line))
    return out


MAX_TS = 253402300799999  # 9999-12-31 23:59:59.999 in epoch milliseconds
MAX_RECORD_BYTES = 4 * 1024 * 1024


def stage(raw: str, columns: dict, required: tuple, is_events: bool) -> dict:
    """The staging row of one record (column -> value), or Rejected."""
    if len(raw.encode("utf-8")) > MAX_RECORD_BYTES:
        raise Rejected  # longer than Redshift's COPY takes for one JSON record
    try:
        obj = strict_json(raw)
    except (ValueError, RecursionError):
        raise Rejected from None
    if not isinstance(obj, dict):
        raise Rejected
    row = {
        key.lower(): None if obj.get(key) is None else convert(obj[key])
        for key, convert in columns.items()
    }
    if any(row[column] is None for column in required):
        raise Rejected
    if is_events and row["userid"] not in (None, ""):
        # userId: empty (logged out) or plain digits that fit an INTEGER
        if not (row["userid"].isascii() and row["userid"].isdigit()):
            raise Rejected
        whole(INTEGER)(row["userid"])
    if is_events and not 0 <= row["ts"] <= MAX_TS:
        raise Rejected  # ts must be a time between 1970 and 9999
    return row


# --- star schema (tables.md, "Star schema") ----------------------------------------------------


def timestamp(ts: int) -> datetime:
    """`ts` (epoch milliseconds) as a naive UTC datetime keeping its milliseconds."""
    return datetime(1970, 1, 1) + timedelta(milliseconds=ts)


def user_id(event: dict) -> int | None:
    """The event's user as an int, None for a logged-out (empty) or missing userId."""
    return None if event["userid"] in (None, "") else whole(INTEGER)(event["userid"])


def repaired(text: str | None) -> str | None:
    """Undo UTF-8 read as Latin-1, as often as it was done ("EsmÃ\x83Â©e" -> "Esmée")."""
    while text is not None:
        try:
            once = text.encode("latin-1").decode("utf-8")
        except UnicodeError:
            break
        if once == text:
            break
        text = once
    return text


def songplays(events: list[dict], songs: list[dict]) -> list[tuple]:
    # Catalogue match on exactly (title, artist name, duration); NULL never matches (SQL `=`).
    catalogue: dict[tuple, tuple[str, str]] = {}
    for s in songs:
        match_key = (s["title"], s["artist_name"], s["duration"])
        if None not in match_key:
            pair = (s["song_id"], s["artist_id"])
            catalogue[match_key] = min(pair, catalogue.get(match_key, pair))  # smallest wins
    plays: dict[str, tuple] = {}
    for e in sorted(events, key=lambda e: (e["source_key"], e["source_line"])):
        if e["page"] != "NextSong" or user_id(e) is None:
            continue
        natural_key = f"{e['userid']}:{e['sessionid']}:{e['iteminsession']}:{e['ts']}"
        play_id = hashlib.md5(natural_key.encode()).hexdigest()
        if play_id in plays:  # another copy of the play: the first (key, line) owns it
            continue
        match_key = (repaired(e["song"]), repaired(e["artist"]), e["length"])
        song_id, artist_id = catalogue.get(match_key, (None, None))
        plays[play_id] = (play_id, timestamp(e["ts"]), user_id(e), e["level"], song_id, artist_id,
                          e["sessionid"], e["location"], e["useragent"], e["source_key"])  # fmt: skip
    return sorted(plays.values(), key=lambda row: row[0])


def users(events: list[dict]) -> list[tuple]:
    def recency(e):  # latest: largest ts, then paid over free, then sessionId, itemInSession
        level = {"paid": 2, "free": 1}.get(e["level"], 0)
        return (e["ts"], level, e["sessionid"], e["iteminsession"])

    def content(e):  # a full tie in one object: the smallest names win (no engine needs lines)
        return tuple((v is None, v or "") for v in (e["firstname"], e["lastname"], e["gender"]))

    latest: dict[int, dict] = {}
    for e in events:  # in (key, line) order, so a full tie keeps the smallest key
        uid = user_id(e)
        if uid is None:
            continue
        kept = latest.get(uid)
        if (
            kept is None
            or recency(e) > recency(kept)
            or (
                recency(e) == recency(kept)
                and e["source_key"] == kept["source_key"]
                and content(e) < content(kept)
            )
        ):
            latest[uid] = e
    rows = [
        (uid, e["firstname"], e["lastname"], e["gender"], e["level"], timestamp(e["ts"]))
        for uid, e in latest.items()
    ]
    return sorted(rows, key=lambda row: row[0])


def songs_table(songs: list[dict]) -> list[tuple]:
    first: dict[str, dict] = {}
    for s in songs:  # in (key, line) order: the smallest (object key, line) wins
        first.setdefault(s["song_id"], s)
    rows = [(sid, s["title"], s["artist_id"], s["year"], s["duration"]) for sid, s in first.items()]
    return sorted(rows, key=lambda row: row[0])


def artists(songs: list[dict]) -> list[tuple]:
    def preference(s):  # coordinates first, then a non-empty location, then (key, line)
        has_coordinates = s["artist_latitude"] is not None and s["artist_longitude"] is not None
        has_location = s["artist_location"] not in (None, "")
        return (not has_coordinates, not has_location, s["source_key"], s["source_line"])

    best: dict[str, dict] = {}
    for s in songs:
        aid = s["artist_id"]
        if aid not in best or preference(s) < preference(best[aid]):
            best[aid] = s
    rows = [
        (aid, s["artist_name"], s["artist_location"], s["artist_latitude"], s["artist_longitude"])
        for aid, s in best.items()
    ]
    return sorted(rows, key=lambda row: row[0])


def time_table(plays: list[tuple]) -> list[tuple]:
    # weekday as Redshift's EXTRACT(dow): 0 = Sunday ... 6 = Saturday; week is the ISO week.
    return [
        (t, t.hour, t.day, t.isocalendar().week, t.month, t.year, t.isoweekday() % 7)
        for t in sorted({play[1] for play in plays})
    ]


@dataclass
class Expected:
    staging_events: list[tuple]
    staging_songs: list[tuple]
    rejects: set[tuple[str, str, int | None]]
    songplays: list[tuple]
    users: list[tuple]
    songs: list[tuple]
    artists: list[tuple]
    time: list[tuple]


def compute(lake_dir: str | os.PathLike) -> Expected:
    staged: dict[str, list[dict]] = {"staging_events": [], "staging_songs": []}
    rejects: set[tuple[str, str, int | None]] = set()
    for key, path in data_objects(os.fspath(lake_dir)):
        table, columns, required = TABLES[key.split("/")[0]]
        with open(path, "rb") as f:
            data = f.read()
        if data.startswith(b"\x1f\x8b"):  # gzip, whatever the name (a broken one is not UTF-8)
            with contextlib.suppress(OSError, EOFError, zlib.error):
                data = gzip.decompress(data)
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError:  # not UTF-8: the whole object is rejected, line NULL
            rejects.add((table, key, None))
            continue
        for line, raw in records(content):
            try:
                row = stage(raw, columns, required, table == "staging_events")
            except (Rejected, UnicodeEncodeError):  # a lone "\ud800" has no UTF-8 form either
                rejects.add((table, key, line))  # the rest of the object still loads
                continue
            staged[table].append(row | {"source_key": key, "source_line": line})
    # Objects come sorted by key and their records in line order: rows are in (key, line) order.
    events, songs = staged["staging_events"], staged["staging_songs"]
    plays = songplays(events, songs)
    return Expected(
        staging_events=[tuple(row.values()) for row in events],
        staging_songs=[tuple(row.values()) for row in songs],
        rejects=rejects,
        songplays=plays,
        users=users(events),
        songs=songs_table(songs),
        artists=artists(songs),
        time=time_table(plays),
    )
