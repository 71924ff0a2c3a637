"""The lake generator: deterministic, extendable day by day, and carrying the real quirks."""

from __future__ import annotations

import collections
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sparkify_assets.generate import EVENT_KEYS, double_encode, generate_lake, main
from tests.support import service_unavailable

SONG_KEYS = [
    "num_songs", "artist_id", "artist_latitude", "artist_longitude", "artist_location",
    "artist_name", "song_id", "title", "duration", "year",
]  # fmt: skip
START = date(2018, 11, 1)
# The smallest lake that must still carry every quirk.
SMALL = dict(songs=50, users=60, days=1, events_per_day=200, start=START)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def read_songs(root: Path) -> list[dict]:
    return [json.loads(p.read_text("utf-8")) for p in sorted(root.glob("song_data/**/*.json"))]


def read_events(root: Path) -> list[dict]:
    return [
        json.loads(line)
        for p in sorted(root.glob("log_data/*/*/*.json"))
        for line in p.read_text("utf-8").splitlines()
    ]


@pytest.fixture(scope="module", params=[42, 7])
def lake(request, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp(f"lake{request.param}")
    generate_lake(root, seed=request.param, **SMALL)
    return root


@pytest.fixture(scope="module")
def songs(lake) -> list[dict]:
    return read_songs(lake)


@pytest.fixture(scope="module")
def events(lake) -> list[dict]:
    return read_events(lake)


def test_same_arguments_same_bytes(tmp_path):
    generate_lake(tmp_path / "a", **SMALL)
    generate_lake(tmp_path / "b", **SMALL)
    assert files(tmp_path / "a") == files(tmp_path / "b")


def test_a_day_does_not_depend_on_the_days_generated_with_it(tmp_path):
    size = dict(songs=50, users=40, events_per_day=200)
    generate_lake(tmp_path / "at_once", days=3, start=START, **size)
    generate_lake(tmp_path / "by_day", days=2, start=START, **size)
    later = START + timedelta(days=2)
    generate_lake(tmp_path / "by_day", days=1, start=later, what=("events",), **size)
    assert files(tmp_path / "at_once") == files(tmp_path / "by_day")
    assert len(files(tmp_path / "at_once")) == 50 + 3 + 1


def test_summary_counts_what_was_written(tmp_path):
    summary = generate_lake(tmp_path, **SMALL)
    written = files(tmp_path)
    assert summary == {
        "song_files": 50,
        "event_files": 1,
        "events": 200,
        "bytes": sum(len(data) for data in written.values()),
    }
    assert generate_lake(tmp_path / "songs", **SMALL, what=("songs",))["event_files"] == 0


def test_layout_and_names(lake):
    song_files = sorted(lake.glob("song_data/**/*.json"))
    assert len(song_files) == 50
    for path in song_files:
        track = path.stem
        assert re.fullmatch(r"TR[A-Z0-9]{16}", track)
        assert path.relative_to(lake).parts == (
            "song_data",
            track[2],
            track[3],
            track[4],
            path.name,
        )
        text = path.read_text("utf-8")
        assert "\n" not in text.strip()
        record = json.loads(text)
        assert list(record) == SONG_KEYS
        assert record["num_songs"] == 1
        assert re.fullmatch(r"AR[A-Z0-9]{16}", record["artist_id"])
        assert re.fullmatch(r"SO[A-Z0-9]{16}", record["song_id"])
    assert [str(p.relative_to(lake)) for p in lake.glob("log_data/**/*.json")] == [
        "log_data/2018/11/2018-11-01-events.json"
    ]


def test_jsonpaths_file_lists_the_18_keys_in_order(lake):
    paths = json.loads((lake / "log_json_path.json").read_text())["jsonpaths"]
    assert paths == [f"$['{key}']" for key in EVENT_KEYS]
    assert len(paths) == 18 and paths[0] == "$['artist']" and paths[-1] == "$['userId']"


def test_event_lines_are_compact_json_in_key_order_with_raw_unicode(lake):
    for path in lake.glob("log_data/*/*/*.json"):
        for line in path.read_text("utf-8").splitlines():
            event = json.loads(line)
            assert list(event) == list(EVENT_KEYS)
            assert line == json.dumps(event, ensure_ascii=False, separators=(",", ":"))
    for path in lake.glob("song_data/**/*.json"):
        assert "\\u" not in path.read_text("utf-8")


def test_event_values(events):
    assert len(events) == 200
    day_start = int(datetime(2018, 11, 1, tzinfo=UTC).timestamp() * 1000)
    sessions = collections.defaultdict(list)
    for event in events:
        assert day_start <= event["ts"] < day_start + 86_400_000
        assert isinstance(event["userId"], str) and isinstance(event["sessionId"], int)
        if event["page"] == "NextSong":
            assert event["method"] == "PUT" and event["status"] == 200
            assert isinstance(event["length"], float) and event["artist"] and event["song"]
        else:
            assert event["artist"] is event["song"] is event["length"] is None
        if event["registration"] is not None:
            assert isinstance(event["registration"], float)
            assert event["registration"].is_integer()
        sessions[event["sessionId"]].append(event)
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    for session in sessions.values():
        assert [e["itemInSession"] for e in session] == list(range(len(session)))
        assert all(a["ts"] < b["ts"] for a, b in zip(session, session[1:], strict=False))
    share = sum(e["page"] == "NextSong" for e in events) / len(events)
    assert 0.7 < share < 0.9
    assert any(e["userAgent"] and e["userAgent"].startswith('"') for e in events)


def test_song_quirks(songs):
    assert any(isinstance(s["title"], int) for s in songs)
    assert any(isinstance(s["artist_name"], int) for s in songs)
    assert any(s["artist_latitude"] is None and s["artist_longitude"] is None for s in songs)
    assert any(isinstance(s["artist_latitude"], float) for s in songs)
    assert any(s["year"] == 0 for s in songs) and any(s["year"] > 0 for s in songs)
    assert any(s["artist_location"] == "" for s in songs)
    assert any(s["artist_location"] is None for s in songs)
    assert any(not str(s["artist_name"]).isascii() for s in songs)
    by_artist = collections.defaultdict(list)
    for s in songs:
        by_artist[s["artist_id"]].append(s)
    assert any(len(records) > 1 for records in by_artist.values())

    def differ(records: list[dict], *keys: str) -> bool:
        return len({tuple(r[k] for k in keys) for r in records}) > 1

    same_place = ("artist_location", "artist_latitude", "artist_longitude")
    assert any(differ(r, "artist_latitude") for r in by_artist.values())
    assert any(
        differ(r, "artist_location") and not differ(r, "artist_latitude")
        for r in by_artist.values()
    )
    assert any(differ(r, "artist_name") and not differ(r, *same_place) for r in by_artist.values())
    # A song id in two files, and one title/artist/duration under two song ids.
    assert len({s["song_id"] for s in songs}) < len(songs)
    triples = collections.defaultdict(set)
    for s in songs:
        triples[s["title"], s["artist_name"], s["duration"]].add(s["song_id"])
    assert any(len(ids) > 1 for ids in triples.values())


def test_logged_out_events(events):
    logged_out = [e for e in events if e["auth"] == "Logged Out"]
    assert logged_out and len(logged_out) < 0.15 * len(events)
    for event in logged_out:
        assert event["userId"] == ""
        assert event["firstName"] is event["lastName"] is event["gender"] is None
        assert event["registration"] is None
        assert event["level"] in ("free", "paid")
        assert event["page"] in ("Home", "Login", "About", "Help")
    assert all(e["userId"].isdigit() for e in events if e["auth"] == "Logged In")


def test_unicode_is_mis_encoded_once_or_twice_over_in_the_event_log(events):
    names = [v for e in events if e["page"] == "NextSong" for v in (e["artist"], e["song"])]
    mojibake = [v for v in names if not v.isascii()]
    assert mojibake
    times_seen = collections.Counter()
    for value in mojibake:  # every non-ASCII name is UTF-8 read as Latin-1, once or twice
        once = value.encode("latin-1").decode("utf-8")
        assert double_encode(once) == value != once
        try:
            twice = once.encode("latin-1").decode("utf-8")
        except UnicodeError:
            times_seen[1] += 1
        else:
            assert double_encode(double_encode(twice)) == value
            times_seen[2] += 1
    assert times_seen[1] and times_seen[2]
    assert double_encode("Tú") == "TÃº"
    assert double_encode(double_encode("Esmée")) == "EsmÃ\x83Â©e"


def test_users_change_level_with_submit_events(events):
    levels = collections.defaultdict(list)
    for event in events:  # already in ts order
        if event["userId"]:
            levels[event["userId"]].append((event["level"], event["page"]))
    changed = [u for u, seen in levels.items() if len({level for level, _ in seen}) > 1]
    assert changed
    for user in changed:  # a change follows a Submit Upgrade/Downgrade
        seen = levels[user]
        for (before, page), (after, _) in zip(seen, seen[1:], strict=False):
            if before != after:
                expected = "Submit Upgrade" if after == "paid" else "Submit Downgrade"
                assert page == expected


def test_different_users_share_a_millisecond(events):
    users_at = collections.defaultdict(set)
    for event in events:
        if event["userId"]:
            users_at[event["ts"]].add(event["userId"])
    assert any(len(users) > 1 for users in users_at.values())


def test_some_plays_match_the_catalogue_exactly_most_do_not(songs, events):
    catalogue = {(str(s["title"]), str(s["artist_name"]), s["duration"]) for s in songs}
    plays = [(e["song"], e["artist"], e["length"]) for e in events if e["page"] == "NextSong"]
    matched = [p for p in plays if p in catalogue]
    assert 0 < len(matched) < 0.4 * len(plays)
    assert all(p[0].isascii() and p[1].isascii() for p in matched)
    numeric = {str(s["title"]) for s in songs if isinstance(s["title"], int)}
    assert numeric  # a numeric title is matched as its text
    assert all(isinstance(p[2], float) for p in plays)


def test_cli_writes_the_lake_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "lake"
    assert main(["--out", str(out), "--songs", "20", "--days", "2", "--events-per-day", "50"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["song_files"] == 20 and summary["events"] == 100
    assert (out / "log_data/2018/11/2018-11-02-events.json").is_file()
    assert main(["--out", str(tmp_path / "s"), "--only", "songs", "--songs", "5"]) == 0
    assert not (tmp_path / "s" / "log_data").exists()


def test_s3_destination_gets_the_same_keys(tmp_path, monkeypatch):
    try:
        import moto
    except ImportError:
        service_unavailable("moto is missing: install the dev extras (moto[server])")
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SPARKIFY_S3_ENDPOINT_URL", raising=False)
    size = dict(songs=20, days=1, events_per_day=50)
    generate_lake(tmp_path, **size)
    with moto.mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="lake")
        generate_lake("s3://lake/raw", **size)
        listed = s3.list_objects_v2(Bucket="lake")["Contents"]
        got = {
            o["Key"].removeprefix("raw/"): s3.get_object(Bucket="lake", Key=o["Key"])["Body"].read()
            for o in listed
        }
    assert got == files(tmp_path)
