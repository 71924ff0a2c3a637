"""The star schema (assets/star.py, sql/<table>.sql): the whole graph materialized in process on
real engines, every table compared with an independent computation over the JSON files
(tests/reference.py)."""

from __future__ import annotations

import json

import pytest

from sparkify_assets.resources.lake import SAMPLE_LAKE
from tests.reference import compute
from tests.support import (
    ALL_TABLES,
    STAR_TABLES,
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


@pytest.mark.parametrize("engine", ["duckdb"])
def test_sample_lake_runs_with_no_configuration(engine, duckdb_warehouse):
    run_graph(duckdb_warehouse, SAMPLE_LAKE)
    assert_matches_reference(duckdb_warehouse, SAMPLE_LAKE)
