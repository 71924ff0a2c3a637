"""End to end: the whole asset graph materialized in process on real engines, every table compared
with an independent computation over the JSON files (tests/reference.py)."""

from __future__ import annotations

import json
import os

import pytest

from sparkify_assets.resources.engines.base import Session
from sparkify_assets.resources.engines.postgres import PostgresSession
from tests.reference import compute
from tests.support import (
    ALL_TABLES,
    LAKE_SIZE,
    STAR_TABLES,
    add_day,
    assert_matches_reference,
    metadata_of,
    read_table,
    run_graph,
)


def test_graph_matches_reference_and_rerun_changes_nothing(warehouse, lake_dir):
    first = run_graph(warehouse, lake_dir)
    assert_matches_reference(warehouse, lake_dir)
    expected = compute(lake_dir)
    staging = metadata_of(first, "staging_events")
    assert staging["dagster/row_count"] == len(expected.staging_events)
    assert staging["rows_rejected"] == 0
    assert metadata_of(first, "songplays")["dagster/row_count"] == len(expected.songplays)

    before = {t: read_table(warehouse, t) for t in (*ALL_TABLES, "staging_rejects")}
    second = run_graph(warehouse, lake_dir)
    assert {t: read_table(warehouse, t) for t in before} == before
    assert metadata_of(second, "staging_events")["objects_loaded"] == 0
    for table in STAR_TABLES:
        assert metadata_of(second, table)["rows_added"] == 0, table
        assert metadata_of(second, table)["rows_changed"] == 0, table


def test_new_day_loads_only_that_day(warehouse, lake_dir):
    run_graph(warehouse, lake_dir)
    songplays_before = read_table(warehouse, "songplays")
    new_key = add_day(lake_dir, LAKE_SIZE["days"] + 1)
    result = run_graph(warehouse, lake_dir)

    staging = metadata_of(result, "staging_events")
    assert staging["objects_loaded"] == 1
    new_lines = (lake_dir / new_key).read_text(encoding="utf-8").count("\n")
    assert staging["rows_added"] == new_lines
    assert staging["rows_changed"] == 0
    songplays_after = read_table(warehouse, "songplays")
    arrived = set(songplays_after) - set(songplays_before)
    assert arrived and {row[-1] for row in arrived} == {new_key}
    assert set(songplays_before) <= set(songplays_after)
    assert_matches_reference(warehouse, lake_dir)


def test_changed_object_replaces_its_rows(warehouse, lake_dir):
    run_graph(warehouse, lake_dir)
    day = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    lines = day.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = lines[: len(lines) // 2]
    day.write_text("".join(kept), encoding="utf-8")
    os.utime(day, ns=(1, 1))  # a new version even where mtime resolution is coarse

    result = run_graph(warehouse, lake_dir)
    staging = metadata_of(result, "staging_events")
    assert staging["objects_loaded"] == 1
    assert staging["rows_changed"] == len(lines)
    assert staging["rows_added"] == len(kept) - len(lines)
    assert_matches_reference(warehouse, lake_dir)


def test_song_arriving_after_its_plays_fills_their_song_id(warehouse, lake_dir):
    """A play of a song not yet in the catalogue gets its song_id once the song arrives."""
    song_files = sorted((lake_dir / "song_data").rglob("*.json"))
    matched = {
        (e["song"], e["artist"], e["length"])
        for f in (lake_dir / "log_data").rglob("*.json")
        for e in map(json.loads, f.read_text(encoding="utf-8").splitlines())
        if e["page"] == "NextSong"
    }
    late = next(
        f
        for f in song_files
        if (lambda s: (str(s["title"]), str(s["artist_name"]), s["duration"]) in matched)(
            json.loads(f.read_text(encoding="utf-8"))
        )
    )
    held_back = late.read_bytes()
    late.unlink()
    run_graph(warehouse, lake_dir)
    late.write_bytes(held_back)
    run_graph(warehouse, lake_dir)
    assert_matches_reference(warehouse, lake_dir)


def test_full_refresh_rebuilds_from_the_lake_as_it_is(warehouse, lake_dir):
    run_graph(warehouse, lake_dir)
    gone = sorted((lake_dir / "log_data").rglob("*.json"))[-1]
    gone.unlink()
    run_graph(warehouse, lake_dir)  # incremental: rows of a vanished object stay
    assert any(
        r[-2] == gone.relative_to(lake_dir).as_posix()
        for r in read_table(warehouse, "staging_events")
    )
    run_graph(warehouse, lake_dir, full_refresh=True)
    assert_matches_reference(warehouse, lake_dir)


@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["as shipped", "an object per chunk"])
def test_bad_records_are_quarantined_and_counted(warehouse, lake_dir, chunk_bytes, monkeypatch):
    if chunk_bytes:  # many statements, and on PostgreSQL many COPYs overlapping the parsing
        monkeypatch.setattr(Session, "chunk_bytes", chunk_bytes)
        monkeypatch.setattr(PostgresSession, "chunk_bytes", chunk_bytes)
    day = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    good = json.loads(day.read_text(encoding="utf-8").splitlines()[0])
    bad_lines = [
        '{"ts": 1541105830796, "page": "NextSong", "broken',  # malformed JSON
        json.dumps({**good, "ts": "yesterday"}),  # cannot become a BIGINT
        json.dumps({**good, "sessionId": None}),  # key field missing
        json.dumps({**good, "itemInSession": 2.5}),  # would lose its fraction
        json.dumps({**good, "userId": "abc"}),  # neither logged out nor a user id
        "[1, 2, 3]",  # not an object
    ]
    with day.open("a", encoding="utf-8") as f:
        f.write("\n".join(bad_lines) + "\n")
    song = sorted((lake_dir / "song_data").rglob("*.json"))[0]
    song.write_bytes(b'{"song_id": "SOBAD", "title": "\xff\xfe"}')  # not UTF-8: rejected whole

    result = run_graph(warehouse, lake_dir, max_reject_rate=0.5)
    assert metadata_of(result, "staging_events")["rows_rejected"] == len(bad_lines)
    assert "invalid JSON" in metadata_of(result, "staging_events")["rejects_sample"]
    assert metadata_of(result, "staging_songs")["rows_rejected"] == 1
    rejects = read_table(warehouse, "staging_rejects")
    reasons = {r[2]: r[3] for r in rejects if r[0] == "staging_events"}
    assert reasons[max(reasons)] == "not a JSON object"
    assert "invalid JSON" in reasons.values() and "missing sessionId" in reasons.values()
    assert [r[2] for r in rejects if r[0] == "staging_songs"] == [None]
    assert_matches_reference(warehouse, lake_dir)


@pytest.mark.parametrize("engine", ["duckdb"])
def test_sample_lake_runs_with_no_configuration(engine, duckdb_warehouse):
    from sparkify_assets.resources.lake import SAMPLE_LAKE

    run_graph(duckdb_warehouse, SAMPLE_LAKE)
    assert_matches_reference(duckdb_warehouse, SAMPLE_LAKE)


def test_duckdb_and_postgres_build_identical_tables(duckdb_warehouse, postgres_warehouse, lake_dir):
    """Same lake in, same rows out, row by row: also after a new day and a rerun."""

    def tables(warehouse):
        return {t: read_table(warehouse, t) for t in (*ALL_TABLES, "staging_rejects")}

    for warehouse in (duckdb_warehouse, postgres_warehouse):
        run_graph(warehouse, lake_dir)
    assert tables(duckdb_warehouse) == tables(postgres_warehouse)

    add_day(lake_dir, LAKE_SIZE["days"] + 1)
    for warehouse in (duckdb_warehouse, postgres_warehouse):
        run_graph(warehouse, lake_dir)
        run_graph(warehouse, lake_dir)
    assert tables(duckdb_warehouse) == tables(postgres_warehouse)
