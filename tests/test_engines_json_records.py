"""Raw JSON to staging rows (resources/engines/json_records.py): the DuckDB queries that type each
record or name the rule it breaks, run here on small hand-written objects."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from sparkify_assets import sql_files
from sparkify_assets.resources.engines import json_records
from sparkify_assets.resources.engines.local_staging import duckdb_execute
from tests.reference import compute

EVENTS = "log_data/2018/11/2018-11-01-events.json"
SONG = "song_data/A/B/C/TRABC0000000001.json"
BATCH = 7


def event(**fields) -> dict:
    """A valid NextSong event; keyword arguments override or (value ...) drop keys."""
    base = {
        "artist": "Muse", "auth": "Logged In", "firstName": "Ann", "gender": "F",
        "itemInSession": 0, "lastName": "Lee", "length": 200.5, "level": "free",
        "location": "Paris", "method": "PUT", "page": "NextSong", "registration": 1540000000000,
        "sessionId": 7, "song": "Uprising", "status": 200, "ts": 1541290000123,
        "userAgent": "Mozilla", "userId": "39",
    }  # fmt: skip
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def song(**fields) -> dict:
    base = {
        "num_songs": 1, "artist_id": "AR1", "artist_latitude": 48.85, "artist_longitude": 2.35,
        "artist_location": "Paris", "artist_name": "Muse", "song_id": "SO1", "title": "Uprising",
        "duration": 200.5, "year": 2009,
    }  # fmt: skip
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def lines(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def parse(folder: Path, table: str, objects: dict[str, str | bytes]):
    """Write `objects` (key -> content) under `folder`, parse them as one chunk: the good rows
    (as dicts by column) and the rejects (key, line, reason, raw text), in key and line order.

    The chunk is parsed from the files and from the bytes in memory: both sources must give
    the same rows and rejects."""
    files, bodies = [], []
    for key, content in objects.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        bodies.append(content.encode() if isinstance(content, str) else content)
        path.write_bytes(bodies[-1])
        files.append(str(path))
    keys = list(objects)
    sources = {
        "files": json_records.file_params(keys, files),
        "bodies": json_records.body_params(keys, bodies),
    }
    parsed = {source: _parse(table, source, params) for source, params in sources.items()}
    assert parsed["files"] == parsed["bodies"]
    return parsed["files"]


def _parse(table: str, source: str, params: dict):
    params = {"load_batch": BATCH, **params}
    names = [c.name for c in sql_files.columns(table)]
    with duckdb.connect() as con:
        good = duckdb_execute(con, json_records.good_rows_query(table, source), params).fetchall()
        bad = duckdb_execute(con, json_records.rejects_query(table, source), params).fetchall()
        by_keys = json_records.record_keys_query(source)
        records = Counter()
        for key, _keys, count in duckdb_execute(con, by_keys, params).fetchall():
            records[key] += count
    # Every record of each object is a row or a reject, never both.
    rows_and_rejects = Counter(row[names.index("source_key")] for row in good)
    rows_and_rejects.update(r[1] for r in bad)
    assert records == dict(rows_and_rejects)
    rows = sorted((dict(zip(names, row, strict=True)) for row in good), key=_where)
    assert {r["load_batch"] for r in rows} <= {BATCH}
    assert {(r[0], r[-1]) for r in bad} <= {(table, BATCH)}
    rejects = sorted((r[1:5] for r in bad), key=lambda r: (r[0], r[1] or 0))
    return rows, rejects


def _where(row: dict):
    return row["source_key"], row["source_line"]


def one_event(folder: Path, record) -> dict | tuple:
    """The staged row of one event record, or its reject (line, reason)."""
    rows, rejects = parse(folder, "staging_events", {EVENTS: lines(record)})
    assert len(rows) + len(rejects) == 1
    return rows[0] if rows else rejects[0][1:3]


# --- each reject reason ------------------------------------------------------------------------

TOO_LONG = 4 * 1024 * 1024


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ('{"ts": 1541290000123, "page": "NextSong", "broken', "invalid JSON"),
        ('{"ts": 1}}', "invalid JSON"),
        ("[1, 2, 3]", "not a JSON object"),
        ('"just text"', "not a JSON object"),
        (event(artist="x" * TOO_LONG), f"record longer than {TOO_LONG} bytes"),
        (event(gender="é" * 9), "gender: longer than 16 bytes"),  # 9 characters, 18 bytes
        (event(itemInSession=2.5), "itemInSession: not a whole number that fits INTEGER"),
        (event(itemInSession="abc"), "itemInSession: not a whole number that fits INTEGER"),
        (event(itemInSession=True), "itemInSession: not a whole number that fits INTEGER"),
        (event(sessionId=2**40), "sessionId: not a whole number that fits INTEGER"),
        (event(status=70000), "status: not a whole number that fits SMALLINT"),
        (event(ts="soon"), "ts: not a whole number that fits BIGINT"),
        (event(registration=1.5), "registration: not a whole number that fits BIGINT"),
        (event(length="x"), "length: not a number"),
        (event(length="Infinity"), "length: not a number"),
        (event(sessionId=None), "missing sessionId"),
        (event(page=...), "missing page"),
        (event(ts=None), "missing ts"),
        (event(userId="abc"), "userId is neither empty nor a whole number"),
        (event(userId="99999999999"), "userId is neither empty nor a whole number"),
        (event(ts=-1), "ts is not between 1970 and 9999"),
        (event(ts=253402300800000), "ts is not between 1970 and 9999"),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else None,
)
def test_a_record_that_breaks_a_rule_is_rejected_with_its_reason(tmp_path, record, reason):
    content = lines(event(), record, event(itemInSession=2))
    rows, rejects = parse(tmp_path, "staging_events", {EVENTS: content})
    assert [r["source_line"] for r in rows] == [1, 3]  # the rest of the object loads
    ((key, line, got, raw_text),) = rejects
    assert (key, line, got) == (EVENTS, 2, reason)
    raw = record if isinstance(record, str) else json.dumps(record)
    assert raw_text == raw[: json_records.RAW_TEXT_CHARS]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (song(song_id=...), "missing song_id"),
        (song(artist_id=None), "missing artist_id"),
        (song(year=100000), "year: not a whole number that fits SMALLINT"),
        (song(title="t" * 513), "title: longer than 512 bytes"),
        (song(duration="long"), "duration: not a number"),
    ],
)
def test_a_song_that_breaks_a_rule_is_rejected_with_its_reason(tmp_path, record, reason):
    rows, rejects = parse(tmp_path, "staging_songs", {SONG: json.dumps(record)})
    assert rows == []
    assert [r[:3] for r in rejects] == [(SONG, 1, reason)]


def test_an_object_that_is_not_utf8_is_rejected_whole_without_a_line(tmp_path):
    other = "log_data/2018/11/2018-11-02-events.json"
    content = lines(event()).encode() + b'{"artist": "\xff"}\n'
    rows, rejects = parse(tmp_path, "staging_events", {EVENTS: content, other: lines(event())})
    assert [r["source_key"] for r in rows] == [other]  # not even its good first line
    assert rejects == [(EVENTS, None, "object is not valid UTF-8", None)]


# --- typed values ------------------------------------------------------------------------------


def test_values_take_their_column_type_without_loss(tmp_path):
    row = one_event(
        tmp_path,
        event(
            ts=1540344794796.0,  # an integral float: a whole number
            sessionId=" 42 ",  # a string holding one
            registration="1540000000000",
            length="0.1",
            status=32767,  # the largest SMALLINT
            method=True,  # other JSON values in text columns: their text
            song=2.5,
            location={"a": [1, "é"]},
            firstName="TÃº",  # unicode exactly as written, double-encoded or not
            gender="é" * 8,  # 16 bytes: fits VARCHAR(16)
            artist=...,  # missing: NULL
            level=None,  # null: NULL
            userId="",  # logged out: kept as the empty string
        ),
    )
    assert row["ts"] == 1540344794796 and type(row["ts"]) is int
    assert (row["sessionid"], row["registration"], row["status"]) == (42, 1540000000000, 32767)
    assert row["length"] == 0.1 and type(row["length"]) is float
    assert (row["method"], row["song"], row["location"]) == ("true", "2.5", '{"a":[1,"é"]}')
    assert (row["firstname"], row["gender"]) == ("TÃº", "é" * 8)
    assert row["artist"] is None and row["level"] is None and row["userid"] == ""
    assert (row["source_key"], row["source_line"], row["load_batch"]) == (EVENTS, 1, BATCH)


def test_doubles_keep_full_precision_and_integers_become_doubles(tmp_path):
    for given, stored in ((218.93179, 218.93179), (3, 3.0), ("1e-7", 1e-7), (0.1 + 0.2, 0.1 + 0.2)):
        row = one_event(tmp_path, event(length=given))
        assert row["length"] == stored and type(row["length"]) is float, given


def test_a_numeric_song_title_is_kept_as_its_text(tmp_path):
    rows, _ = parse(tmp_path, "staging_songs", {SONG: json.dumps(song(title=1888, year=0))})
    assert (rows[0]["title"], rows[0]["year"]) == ("1888", 0)


def test_parsed_rows_and_rejects_equal_the_reference(tmp_path):
    """The same objects through the reference (tests/reference.py, plain Python)."""
    objects = {
        EVENTS: lines(
            event(),
            event(userId="", page="Home", itemInSession=1),
            event(ts="1541290000999", itemInSession=2, length=3, song=1888),
            "[1]",
            event(status=None, gender=None, itemInSession=4),
        ),
        "log_data/2018/11/2018-11-02-events.json": "\r\n" + lines(event(sessionId=8)),
        SONG: json.dumps(song(title=1888), indent=2),
        "song_data/A/B/D/TRABD0000000002.json": json.dumps(song(song_id=...)),
    }
    expected = compute(_write(tmp_path / "lake", objects))
    for table, prefix in (("staging_events", "log_data/"), ("staging_songs", "song_data/")):
        mine = {k: v for k, v in objects.items() if k.startswith(prefix)}
        rows, rejects = parse(tmp_path / "parsed", table, mine)
        assert [tuple(r.values())[:-1] for r in rows] == getattr(expected, table), table
        assert {(table, *r[:2]) for r in rejects} == {r for r in expected.rejects if r[0] == table}


def _write(folder: Path, objects: dict[str, str]) -> Path:
    for key, content in objects.items():
        (folder / key).parent.mkdir(parents=True, exist_ok=True)
        (folder / key).write_text(content, encoding="utf-8")
    return folder


# --- records and lines -------------------------------------------------------------------------


def test_lines_are_numbered_from_one_with_blank_lines_skipped_and_crlf_dropped(tmp_path):
    content = "\r\n" + json.dumps(event()) + "\r\n  \n\n" + json.dumps(event(itemInSession=1))
    rows, rejects = parse(tmp_path, "staging_events", {EVENTS: content})
    assert [(r["source_line"], r["useragent"]) for r in rows] == [(2, "Mozilla"), (5, "Mozilla")]
    assert rejects == []


def test_a_pretty_printed_object_is_one_record_at_line_one(tmp_path):
    content = "\n\n" + json.dumps(song(), indent=4) + "\n"
    rows, rejects = parse(tmp_path, "staging_songs", {SONG: content})
    assert [(r["song_id"], r["source_line"]) for r in rows] == [("SO1", 1)]
    assert rejects == []


def test_every_object_of_a_chunk_is_read_once_under_its_own_key(tmp_path):
    """More objects than READ_GROUPS: each group reads its share, no file twice or never."""
    count = 3 * json_records.READ_GROUPS + 1
    objects = {
        f"log_data/2018/11/day-{n:02d}.json": lines(event(ts=1000 + n)) for n in range(count)
    }
    rows, _ = parse(tmp_path, "staging_events", objects)
    assert [(r["source_key"], r["ts"]) for r in rows] == [
        (key, 1000 + n) for n, key in enumerate(objects)
    ]


# --- columns -----------------------------------------------------------------------------------


def test_raw_columns_follow_the_jsonpaths_and_the_create_table():
    events = json_records.raw_columns("staging_events")
    assert [c.key for c in events] == list(sql_files.json_keys("staging_events"))
    assert [c.name for c in events] == [k.lower() for k in sql_files.json_keys("staging_events")]
    assert {c.key for c in events if c.required} == {"itemInSession", "page", "sessionId", "ts"}
    by_key = {c.key: c for c in events}
    assert (by_key["gender"].base_type, by_key["gender"].max_bytes) == ("VARCHAR", 16)
    assert (by_key["status"].base_type, by_key["status"].max_bytes) == ("SMALLINT", None)
    songs = json_records.raw_columns("staging_songs")
    assert {c.key for c in songs if c.required} == {"artist_id", "song_id"}


def test_record_rules_come_from_the_table_sql_or_are_none():
    assert "userId is neither empty nor a whole number" in json_records.record_rules(
        "staging_events"
    )
    assert json_records.record_rules("staging_songs") == "NULL"
