"""Pins each rule of docs/tables.md on tiny hand-written lakes, through tests/reference.py."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from tests.reference import compute

EVENTS = "log_data/2018/11/2018-11-01-events.json"
EVENTS_NAMES = [
    "artist", "auth", "firstname", "gender", "iteminsession", "lastname", "length", "level",
    "location", "method", "page", "registration", "sessionid", "song", "status", "ts",
    "useragent", "userid", "source_key", "source_line",
]  # fmt: skip
SONGS_NAMES = [
    "num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location",
    "artist_name", "song_id", "title", "duration", "year", "source_key", "source_line",
]  # fmt: skip


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


def write(lake: Path, key: str, content: str | bytes) -> None:
    path = lake / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)


def lines(*records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def staged_events(lake: Path) -> list[dict]:
    return [dict(zip(EVENTS_NAMES, row, strict=True)) for row in compute(lake).staging_events]


def staged_songs(lake: Path) -> list[dict]:
    return [dict(zip(SONGS_NAMES, row, strict=True)) for row in compute(lake).staging_songs]


def one_event(tmp_path: Path, **fields):
    """Stage a single event: its row dict, or None if it was rejected."""
    write(tmp_path, EVENTS, lines(event(**fields)))
    rows = staged_events(tmp_path)
    assert len(rows) + len(compute(tmp_path).rejects) == 1
    return rows[0] if rows else None


# --- which objects are data ---------------------------------------------------------------------


def test_only_nonempty_json_objects_under_the_two_folders_are_data(tmp_path):
    write(tmp_path, EVENTS, lines(event()))
    write(tmp_path, "log_data/log_json_path.json", lines(event(itemInSession=1)))
    write(tmp_path, "log_json_path.json", '{"jsonpaths": []}')
    write(tmp_path, "log_data/2018/11/empty.json", b"")
    write(tmp_path, "log_data/2018/11/notes.txt", lines(event(itemInSession=2)))
    write(tmp_path, "other/x.json", lines(event(itemInSession=3)))
    expected = compute(tmp_path)
    assert [(r[4], r[-2], r[-1]) for r in expected.staging_events] == [(0, EVENTS, 1)]
    assert expected.rejects == set()


# --- records ------------------------------------------------------------------------------------


def test_invalid_json_line_is_rejected_while_the_other_lines_load(tmp_path):
    write(tmp_path, EVENTS, lines(event(), '{"ts": 1', event(itemInSession=2)))
    expected = compute(tmp_path)
    assert [r[-1] for r in expected.staging_events] == [1, 3]
    assert expected.rejects == {("staging_events", EVENTS, 2)}


def test_record_that_is_not_an_object_is_rejected(tmp_path):
    write(tmp_path, EVENTS, lines(event(), "[1, 2]", '"text"'))
    assert compute(tmp_path).rejects == {("staging_events", EVENTS, n) for n in (2, 3)}


def test_nan_literal_is_not_json(tmp_path):
    write(tmp_path, EVENTS, lines(event()).replace("200.5", "NaN"))
    assert compute(tmp_path).rejects == {("staging_events", EVENTS, 1)}


def test_non_utf8_object_is_rejected_whole_with_line_none(tmp_path):
    write(tmp_path, EVENTS, lines(event()).encode() + b'{"artist": "\xff"}\n')
    expected = compute(tmp_path)
    assert expected.staging_events == []
    assert expected.rejects == {("staging_events", EVENTS, None)}


def test_pretty_printed_single_object_is_one_record_at_line_1(tmp_path):
    key = "song_data/A/B/C/TRABC.json"
    write(tmp_path, key, "\n\n" + json.dumps(song(), indent=4) + "\n")
    expected = compute(tmp_path)
    assert [(r[6], r[-1]) for r in expected.staging_songs] == [("SO1", 1)]
    assert expected.rejects == set()


def test_blank_lines_are_skipped_but_keep_their_numbers(tmp_path):
    content = "\r\n" + json.dumps(event()) + "\r\n  \n\n" + json.dumps(event(itemInSession=1))
    write(tmp_path, EVENTS, content)
    expected = compute(tmp_path)
    assert [r[-1] for r in expected.staging_events] == [2, 5]
    assert expected.rejects == set()


# --- columns ------------------------------------------------------------------------------------


def test_missing_key_and_null_are_null(tmp_path):
    row = one_event(tmp_path, artist=..., gender=None)
    assert row["artist"] is None and row["gender"] is None


def test_text_is_taken_exactly_as_written(tmp_path):
    assert one_event(tmp_path, firstName="TÃº")["firstname"] == "TÃº"


def test_numeric_title_is_kept_as_text(tmp_path):
    write(tmp_path, "song_data/A/TR.json", json.dumps(song(title=1888)))
    assert staged_songs(tmp_path)[0]["title"] == "1888"


def test_other_json_values_in_text_columns_become_their_text(tmp_path):
    row = one_event(tmp_path, method=True, song=2.5, location={"a": [1, "é"]})
    assert (row["method"], row["song"], row["location"]) == ("true", "2.5", '{"a":[1,"é"]}')


def test_text_longer_than_n_utf8_bytes_is_rejected(tmp_path):
    assert one_event(tmp_path, gender="é" * 8)["gender"] == "é" * 8  # 16 bytes fit VARCHAR(16)
    assert one_event(tmp_path, gender="é" * 9) is None  # 9 characters but 18 bytes


def test_text_that_cannot_be_utf8_is_rejected(tmp_path):
    write(tmp_path, EVENTS, lines(event()).replace('"Ann"', '"\\ud800"'))  # a lone surrogate
    assert compute(tmp_path).rejects == {("staging_events", EVENTS, 1)}


def test_integral_float_is_accepted_for_a_bigint(tmp_path):
    assert one_event(tmp_path, ts=1540344794796.0)["ts"] == 1540344794796


def test_string_holding_a_whole_number_is_accepted(tmp_path):
    row = one_event(tmp_path, sessionId=" 42 ", registration="1540000000000")
    assert (row["sessionid"], row["registration"]) == (42, 1540000000000)


def test_fraction_is_rejected_for_an_integer(tmp_path):
    assert one_event(tmp_path, sessionId=1.5) is None


@pytest.mark.parametrize("value", ["", "abc", "nan", "inf", "1.5", "1_0", True, [1]])
def test_non_numbers_are_rejected_for_an_integer(tmp_path, value):
    assert one_event(tmp_path, itemInSession=value) is None


def test_value_outside_the_type_range_is_rejected(tmp_path):
    assert one_event(tmp_path, status=32767)["status"] == 32767
    assert one_event(tmp_path, status=32768) is None  # SMALLINT


def test_double_takes_numbers_and_numeric_strings_at_full_precision(tmp_path):
    assert one_event(tmp_path, length="0.1")["length"] == 0.1
    assert one_event(tmp_path, length=218.93179)["length"] == 218.93179
    assert one_event(tmp_path, length=3)["length"] == 3.0


@pytest.mark.parametrize("value", ["", "x", "nan", "Infinity", False, 1e400])
def test_double_rejects_other_values_and_non_finite(tmp_path, value):
    assert one_event(tmp_path, length=value) is None


@pytest.mark.parametrize("field", ["ts", "sessionId", "itemInSession", "page"])
def test_required_event_fields(tmp_path, field):
    assert one_event(tmp_path, **{field: None}) is None


@pytest.mark.parametrize("field", ["song_id", "artist_id"])
def test_required_song_fields(tmp_path, field):
    write(tmp_path, "song_data/TR.json", json.dumps(song(**{field: ...})))
    assert compute(tmp_path).rejects == {("staging_songs", "song_data/TR.json", 1)}


def test_user_id_empty_or_whole_number(tmp_path):
    write(tmp_path, EVENTS, lines(event(userId=""), event(userId="abc"), event(userId="39")))
    expected = compute(tmp_path)
    assert [(r[17], r[-1]) for r in expected.staging_events] == [("", 1), ("39", 3)]
    assert expected.rejects == {("staging_events", EVENTS, 2)}
    assert [p[2] for p in expected.songplays] == [39]  # the logged-out play is not a songplay
    assert [u[0] for u in expected.users] == [39]


# --- star schema --------------------------------------------------------------------------------


def test_songplay_row(tmp_path):
    write(tmp_path, EVENTS, lines(event(), event(page="Home", itemInSession=1)))
    write(tmp_path, "song_data/TR.json", json.dumps(song()))
    play_id = hashlib.md5(b"39:7:0:1541290000123").hexdigest()
    start = datetime(2018, 11, 4, 0, 6, 40, 123000)
    assert compute(tmp_path).songplays == [
        (play_id, start, 39, "free", "SO1", "AR1", 7, "Paris", "Mozilla", EVENTS)
    ]


def test_start_time_keeps_milliseconds(tmp_path):
    write(tmp_path, EVENTS, lines(event(ts=1541290000999)))
    assert compute(tmp_path).songplays[0][1] == datetime(2018, 11, 4, 0, 6, 40, 999000)


def test_song_match_needs_exact_title_artist_and_duration(tmp_path):
    write(tmp_path, "song_data/1.json", json.dumps(song(song_id="SO9", artist_id="AR9")))
    write(tmp_path, "song_data/2.json", json.dumps(song(song_id="SO2", artist_id="AR2")))
    write(tmp_path, "song_data/3.json", json.dumps(song(song_id="SO0", title="uprising")))
    write(tmp_path, "song_data/4.json", json.dumps(song(song_id="SO0", artist_name="Muse ")))
    write(tmp_path, "song_data/5.json", json.dumps(song(song_id="SO0", duration=200.50001)))
    events = [event(ts=1), event(ts=2, length=200.4), event(ts=3, song=None)]
    write(tmp_path, EVENTS, lines(*events))
    plays = sorted(compute(tmp_path).songplays, key=lambda p: p[1])
    # several matches: the smallest (song_id, artist_id); no exact match (or NULL): NULL
    assert [(p[4], p[5]) for p in plays] == [("SO2", "AR2"), (None, None), (None, None)]


def test_users_take_the_latest_event_with_tie_breaks(tmp_path):
    write(
        tmp_path,
        EVENTS,
        lines(
            event(ts=2000, level="paid", firstName="Old"),  # older
            event(ts=3000, level="free", sessionId=99, itemInSession=99, firstName="Free"),
            event(ts=3000, level="paid", sessionId=1, itemInSession=5, firstName="S1"),
            event(ts=3000, level="paid", sessionId=2, itemInSession=0, firstName="S2-0"),
            event(ts=3000, level="paid", sessionId=2, itemInSession=1, firstName="W", page="Home"),
        ),
    )
    assert compute(tmp_path).users == [(39, "W", "Lee", "F", "paid", datetime(1970, 1, 1, 0, 0, 3))]


def test_songs_keep_the_record_with_smallest_key_and_line(tmp_path):
    write(tmp_path, "song_data/B.json", json.dumps(song(title="B", year=0)))
    write(tmp_path, "song_data/A.json", lines(song(title="A2"), song(title="A1", year=0)))
    # line 1 of A wins; year 0 means unknown and stays 0 in the record that has it
    assert compute(tmp_path).songs == [("SO1", "A2", "AR1", 2009, 200.5)]
    write(tmp_path, "song_data/0.json", json.dumps(song(title="Z", year=0)))
    assert compute(tmp_path).songs == [("SO1", "Z", "AR1", 0, 200.5)]


def test_artists_prefer_coordinates_then_location_then_key_and_line(tmp_path):
    no_coords = {"artist_latitude": None, "artist_longitude": None}
    write(tmp_path, "song_data/1.json", json.dumps(song(artist_location="", **no_coords)))
    write(tmp_path, "song_data/2.json", json.dumps(song(artist_name="Loc", **no_coords)))
    write(tmp_path, "song_data/3.json", json.dumps(song(artist_name="Lat", artist_longitude=None)))
    assert compute(tmp_path).artists == [("AR1", "Loc", "Paris", None, None)]
    write(tmp_path, "song_data/4.json", json.dumps(song(artist_name="Lat2", artist_location="")))
    assert compute(tmp_path).artists == [("AR1", "Lat2", "", 48.85, 2.35)]
    write(tmp_path, "song_data/5.json", json.dumps(song(artist_name="Both")))
    write(tmp_path, "song_data/6.json", json.dumps(song(artist_name="Both2")))
    assert compute(tmp_path).artists == [("AR1", "Both", "Paris", 48.85, 2.35)]


def test_time_weekday_zero_is_sunday_and_week_is_iso(tmp_path):
    tss = [1546128000000, 1577664000000, 1609459200000, 1546128000000]
    write(tmp_path, EVENTS, lines(*(event(ts=ts, itemInSession=i) for i, ts in enumerate(tss))))
    assert compute(tmp_path).time == [  # one row per distinct start_time
        (datetime(2018, 12, 30), 0, 30, 52, 12, 2018, 0),  # a Sunday
        (datetime(2019, 12, 30), 0, 30, 1, 12, 2019, 1),  # ISO week 1 of 2020, year 2019
        (datetime(2021, 1, 1), 0, 1, 53, 1, 2021, 5),  # a Friday in ISO week 53 of 2020
    ]
