"""The load protocol (load_protocol.py): new, changed and unchanged objects, load batches,
watermarks, pruning and full refresh, through the graph and step by step."""

from __future__ import annotations

import os

from tests.support import (
    LAKE_SIZE,
    add_day,
    assert_matches_reference,
    metadata_of,
    read_table,
    run_graph,
)


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
