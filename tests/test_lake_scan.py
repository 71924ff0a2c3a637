"""What a sensor tick finds (lake_scan.py): a bounded listing, the manifest compared, requests that
are retried or forgotten, a backlog that keeps the cursor bounded."""

from __future__ import annotations

from dagster import materialize

from sparkify_assets import lake_scan
from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.lake_scan import Cursor, Pending, Watch, scan
from sparkify_assets.resources.lake import Lake, LakeObject
from sparkify_assets.sensors import run_key
from tests.support import (
    EARLY_SONG,
    MANY,
    counting_calls,
    put,
    record_loaded,
    song,
    split_s3_url,
)


def test_a_tick_lists_a_bounded_number_of_pages_and_a_lap_finds_everything(
    many_keys, s3_endpoint, s3_client, aws_credentials, duckdb_warehouse
):
    url, raw_keys = many_keys
    lake = Lake(url=url, s3_endpoint_url=s3_endpoint)
    record_loaded(duckdb_warehouse, "staging_songs", list(lake.list_objects("song_data/")))
    watch = Watch("bounded", "song_data/", "staging_songs", 60, sweep_pages=1, tail_pages=1)

    def tick(cursor: Cursor, now: int):
        with counting_calls(lake) as calls:
            found = scan(lake, duckdb_warehouse, watch, cursor, now=now)
        assert calls["ListObjectsV2"] <= 2  # one tail page and one sweep page, whatever the size
        return found

    cursor = Cursor()
    for clock in range(4):  # the tail reaches the end; the sweep is under way
        found = tick(cursor, clock)
        assert found.requested == {}
        cursor = found.cursor
    assert cursor.tail == raw_keys[-1]

    middle = raw_keys[MANY // 2]
    bucket, root = split_s3_url(url)
    original = s3_client.get_object(Bucket=bucket, Key=root + middle)["Body"].read()
    put(s3_client, url, middle, b'{"song_id": "rewritten"}')
    put(s3_client, url, EARLY_SONG, song("SOEARLY0000000001", "Early"))
    try:
        requested: set[str] = set()
        for clock in range(4, 8):  # a lap: three pages, one per tick, then the wrap
            found = tick(cursor, clock)
            requested |= set(found.requested)
            cursor = found.cursor
        assert requested == {middle, EARLY_SONG}
    finally:  # the bucket is shared by the session's tests: as it was
        put(s3_client, url, middle, original)
        s3_client.delete_object(Bucket=bucket, Key=root + EARLY_SONG)


def test_a_backlog_asks_for_one_run_and_the_cursor_stays_bounded(
    lake_dir, duckdb_warehouse, monkeypatch
):
    monkeypatch.setattr(lake_scan, "MAX_PENDING", 10)
    lake = Lake(url=str(lake_dir))
    song_keys = [o.key for o in lake.list_objects("song_data/")]
    first = scan(lake, duckdb_warehouse, lake_scan.SONGS, Cursor(), now=0)
    assert sorted(first.requested) == song_keys[:10]
    assert first.cursor.tail == song_keys[9]
    waiting = scan(lake, duckdb_warehouse, lake_scan.SONGS, first.cursor, now=60)
    assert waiting.requested == {} and waiting.pages == 0

    result = materialize(
        ALL_ASSETS,
        selection=["staging_songs"],
        resources={"warehouse": duckdb_warehouse, "lake": lake},
    )
    assert result.success  # the run loads the whole backlog, not only what was requested
    cleared = scan(lake, duckdb_warehouse, lake_scan.SONGS, waiting.cursor, now=120)
    assert cleared.requested == {} and cleared.cursor.pending == {}
    caught_up = scan(lake, duckdb_warehouse, lake_scan.SONGS, cleared.cursor, now=180)
    assert caught_up.requested == {} and caught_up.cursor.tail == song_keys[-1]


def test_an_unloaded_request_is_retried_and_a_deleted_one_forgotten(lake_dir, duckdb_warehouse):
    lake = Lake(url=str(lake_dir))
    watch = lake_scan.EVENTS
    day_keys = [o.key for o in lake.list_objects("log_data/")]
    first = scan(lake, duckdb_warehouse, watch, Cursor(), now=0)
    assert sorted(first.requested) == day_keys
    assert scan(lake, duckdb_warehouse, watch, first.cursor, now=60).requested == {}

    (lake_dir / day_keys[0]).unlink()
    later = scan(lake, duckdb_warehouse, watch, first.cursor, now=120)
    assert sorted(later.cursor.pending) == day_keys[1:]

    # Still not loaded long after (the run failed): asked for again, under a new run key.
    retry = scan(lake, duckdb_warehouse, watch, later.cursor, now=lake_scan.RETRY_AFTER_SECONDS)
    assert sorted(retry.requested) == day_keys[1:]
    assert {p.attempt for p in retry.requested.values()} == {1}
    first_again = {k: first.requested[k] for k in day_keys[1:]}
    assert run_key(watch, retry.requested) != run_key(watch, first_again)


def test_the_cursor_round_trips_as_compact_json():
    cursor = Cursor(
        tail="log_data/2018/11/2018-11-30-events.json",
        sweep="log_data/2018/11/2018-11-02-events.json",
        pending={"b.json": Pending("e2", 60, 1), "a.json": Pending("e1", 0, 0)},
    )
    text = cursor.dump()
    assert " " not in text.replace("log_data/2018", "")  # compact
    assert text.index('"a.json"') < text.index('"b.json"')  # in key order: stable across ticks
    assert Cursor.parse(text) == cursor
    assert Cursor.parse(None) == Cursor.parse("") == Cursor() == Cursor.parse(Cursor().dump())


def test_a_pending_object_stays_until_its_version_loads_or_it_leaves_the_lake():
    pending = {k: Pending("v1", 0, 0) for k in ("loaded", "newer", "gone", "unseen", "waiting")}
    listed = {
        "loaded": LakeObject("loaded", "v1", 1),
        "newer": LakeObject("newer", "v2", 1),
        "waiting": LakeObject("waiting", "v1", 1),
    }
    loaded = {"loaded": "v1", "newer": "v2", "waiting": "v0"}
    ranges = [("a", "h")]  # listed over: loaded, newer, gone; not unseen, waiting
    kept = lake_scan.still_pending(pending, listed, ranges, loaded)
    assert sorted(kept) == ["unseen", "waiting"]
    assert lake_scan.in_range("b", (None, None)) and lake_scan.in_range("h", ("a", "h"))
    assert not lake_scan.in_range("a", ("a", "h")) and not lake_scan.in_range("i", ("a", "h"))
