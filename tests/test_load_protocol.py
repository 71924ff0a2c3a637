"""The load protocol (load_protocol.py): new, changed and unchanged objects, load batches,
watermarks, pruning and full refresh, through the graph and step by step."""

from __future__ import annotations

import json
import os
from dataclasses import replace

from sparkify_assets import load_protocol, sql_files
from sparkify_assets.load_protocol import Merge, StagingLoad, Window
from sparkify_assets.resources.engines.base import Session, slots
from sparkify_assets.resources.lake import Lake, LakeObject
from tests.reference import compute
from tests.support import (
    LAKE_SIZE,
    RecordingWarehouse,
    add_day,
    assert_matches_reference,
    in_order,
    metadata_of,
    read_table,
    run_graph,
)


def test_new_day_loads_only_that_day(built_warehouse, lake_dir):
    songplays_before = read_table(built_warehouse, "songplays")
    new_key = add_day(lake_dir, LAKE_SIZE["days"] + 1)
    result = run_graph(built_warehouse, lake_dir)

    staging = metadata_of(result, "staging_events")
    assert staging["objects_loaded"] == 1
    new_lines = (lake_dir / new_key).read_text(encoding="utf-8").count("\n")
    assert staging["rows_added"] == new_lines
    assert staging["rows_changed"] == 0
    songplays_after = read_table(built_warehouse, "songplays")
    arrived = set(songplays_after) - set(songplays_before)
    assert arrived and {row[-1] for row in arrived} == {new_key}
    assert set(songplays_before) <= set(songplays_after)
    assert_matches_reference(built_warehouse, lake_dir)


def test_changed_object_replaces_its_rows(built_warehouse, lake_dir):
    day = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    lines = day.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = lines[: len(lines) // 2]
    day.write_text("".join(kept), encoding="utf-8")
    os.utime(day, ns=(1, 1))  # a new version even where mtime resolution is coarse

    result = run_graph(built_warehouse, lake_dir)
    staging = metadata_of(result, "staging_events")
    assert staging["objects_loaded"] == 1
    assert staging["rows_changed"] == len(lines)
    assert staging["rows_added"] == len(kept) - len(lines)
    assert_matches_reference(built_warehouse, lake_dir)


def test_full_refresh_rebuilds_from_the_lake_as_it_is(built_warehouse, lake_dir):
    gone = sorted((lake_dir / "log_data").rglob("*.json"))[-1]
    gone.unlink()
    run_graph(built_warehouse, lake_dir)  # incremental: rows of a vanished object stay
    assert any(
        r[-2] == gone.relative_to(lake_dir).as_posix()
        for r in read_table(built_warehouse, "staging_events")
    )
    # A full refresh of the days the lake held, the vanished object's among them.
    run_graph(built_warehouse, lake_dir, full_refresh=True, days=("2018-11-01", "2018-11-03"))
    assert_matches_reference(built_warehouse, lake_dir)


# --- step by step: the protocol's own functions on each engine ---------------------------------

EVENTS = "staging_events"


def stage_events(warehouse, lake_dir, full_refresh: bool = False) -> StagingLoad:
    return stage_prefix(warehouse, lake_dir, EVENTS, "log_data/", full_refresh)


def stage_prefix(warehouse, lake_dir, table, prefix, full_refresh=False) -> StagingLoad:
    lake = Lake(url=str(lake_dir))
    objects = list(lake.list_objects(prefix))
    with load_protocol.locked(warehouse, load_protocol.staging_locks(table)) as session:
        return load_protocol.stage(session, table, lake, objects, full_refresh)


def merge(warehouse, table: str, sources=(EVENTS,), full_refresh: bool = False) -> Merge:
    writes, reads = load_protocol.star_locks(table, sources)
    with load_protocol.locked(warehouse, writes, reads) as session:
        return load_protocol.merge(session, table, sources, full_refresh)


def query(warehouse, sql: str) -> list[tuple]:
    with warehouse.session() as session:
        return in_order(session.query_text(sql)[1])


def manifest(warehouse) -> dict[str, tuple[str, int]]:
    rows = query(warehouse, "SELECT object_key, etag, load_batch FROM load_manifest")
    return {key: (etag, batch) for key, etag, batch in rows}


def batches(warehouse) -> list[tuple]:
    sql = (
        "SELECT load_batch, table_name, objects, rows_loaded, rows_rejected, rows_replaced, "
        "full_refresh FROM load_batches"
    )
    return query(warehouse, sql)


def lines_of(path) -> int:
    return path.read_text(encoding="utf-8").count("\n")


ADDED = sql_files.added_columns("load_batches")


def version(path) -> str:
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def test_duplicate_events_count_copies_within_a_load_and_of_earlier_loads(warehouse, lake_dir):
    days = sorted((lake_dir / "log_data").rglob("*.json"))
    # A first load carrying a day twice: each of its events once more.
    days[0].with_name(days[0].stem + ".retry-1.json").write_bytes(days[0].read_bytes())
    assert stage_events(warehouse, lake_dir).duplicate_events == lines_of(days[0])

    # A later load of five events of a staged day, each twice: five copies within the load, and
    # the five first copies of events an earlier load staged.
    lines = days[1].read_text(encoding="utf-8").splitlines(keepends=True)
    partial = days[1].with_name(days[1].stem + ".retry-1.json")
    partial.write_text("".join(lines[:5] * 2), encoding="utf-8")
    assert stage_events(warehouse, lake_dir).duplicate_events == 10

    # A new day copies nothing.
    add_day(lake_dir, LAKE_SIZE["days"] + 1)
    assert stage_events(warehouse, lake_dir).duplicate_events == 0


# Plays whose titles and artist names the app logged as the real log does, with their repairs
# spelt out: UTF-8 read as Latin-1 once ("Tú"), twice over ("Esmée"), and text that needs none
# (a real Latin-1 accent, plain ASCII). (song, artist) of each NextSong event of the day.
MIS_ENCODED_PLAYS = [
    ("T\u00c3\u00ba", "Sigur R\u00c3\u00b3s"),  # "TÃº" by "Sigur RÃ³s"
    ("Esm\u00c3\u0083\u00c2\u00a9e", "Plain Artist"),  # "EsmÃ\x83Â©e", twice over
    ("T\u00c3\u00ba", "Caf\u00e9 Society"),  # "TÃº" again; "Café" is spelt right
    ("Plain Song", "Bj\u00f6rk"),  # nothing to repair
]
REPAIRS = {
    "T\u00c3\u00ba": "T\u00fa",  # Tú
    "Sigur R\u00c3\u00b3s": "Sigur R\u00f3s",  # Sigur Rós
    "Esm\u00c3\u0083\u00c2\u00a9e": "Esm\u00e9e",  # Esmée
}
REPAIRED_FIELDS = 4  # "TÃº" twice, "Sigur RÃ³s", "EsmÃ\x83Â©e"


def mis_encoded_day(lake_dir, folder):
    """A lake in `folder` of one day: the plays of MIS_ENCODED_PLAYS, and a page view carrying a
    mis-encoded title (not a play: not repaired). Events are copies of one of `lake_dir`."""
    generated = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    events = [json.loads(line) for line in generated.read_text("utf-8").splitlines()]
    play = next(e for e in events if e["page"] == "NextSong")
    day = folder / "log_data" / "2018" / "11" / "2018-11-01-events.json"
    day.parent.mkdir(parents=True)
    lines = [
        {**play, "song": song, "artist": artist, "itemInSession": n}
        for n, (song, artist) in enumerate(MIS_ENCODED_PLAYS)
    ]
    lines.append({**play, "page": "Home", "song": "Esm\u00c3\u00a9e", "itemInSession": 9})
    day.write_text("".join(json.dumps(e) + "\n" for e in lines), encoding="utf-8")
    return day


def test_repaired_values_count_each_repaired_field_of_a_load_also_when_known(
    warehouse, lake_dir, tmp_path
):
    day = mis_encoded_day(lake_dir, tmp_path / "mis_encoded")
    assert stage_events(warehouse, tmp_path / "mis_encoded").repaired_values == REPAIRED_FIELDS
    repairs = query(warehouse, "SELECT raw_text, repaired_text, load_batch FROM text_repairs")
    assert repairs == in_order((raw, fixed, 1) for raw, fixed in REPAIRS.items())
    # A copy of the day: its text was repaired by the first load and counts in this one too.
    day.with_name(day.stem + ".retry-1.json").write_bytes(day.read_bytes())
    assert stage_events(warehouse, tmp_path / "mis_encoded").repaired_values == REPAIRED_FIELDS
    assert query(warehouse, "SELECT raw_text, repaired_text, load_batch FROM text_repairs") == (
        repairs
    )


def test_a_warehouse_built_before_columns_were_added_gains_them_and_keeps_its_loads(
    warehouse, lake_dir
):
    # load_batches as an earlier release created it, with one load recorded.
    old_columns = [c for c in sql_files.columns("load_batches") if c.name not in ADDED]
    with warehouse.session() as session:
        typed = ", ".join(f"{c.name} {c.type} NOT NULL" for c in old_columns)
        session.execute(f"CREATE TABLE load_batches ({typed})")
        session.execute(
            "INSERT INTO load_batches (load_batch, table_name, objects, rows_loaded, "
            "rows_rejected, rows_replaced, full_refresh, loaded_at) "
            "VALUES (7, 'staging_events', 1, 10, 0, 0, FALSE, TIMESTAMP '2018-11-30 00:00:00')"
        )

    load = stage_events(warehouse, lake_dir)  # the first run of this release opens the table

    assert load.load_batch == 8 and load.repaired_values > 0
    with warehouse.session() as session:
        names, rows = session.query_text(
            "SELECT load_batch, duplicate_events, repaired_values FROM load_batches "
            "ORDER BY load_batch"
        )
    assert rows == [(7, 0, 0), (8, load.duplicate_events, load.repaired_values)]


def test_only_new_and_changed_objects_load_and_a_changed_one_replaces_its_rows(warehouse, lake_dir):
    days = sorted((lake_dir / "log_data").rglob("*.json"))
    keys = [d.relative_to(lake_dir).as_posix() for d in days]
    first = stage_events(warehouse, lake_dir)
    assert first.repaired_values > 0  # the generated log, like the real one, is mis-encoded
    assert replace(first, repaired_values=0) == StagingLoad(3, 3, sum(map(lines_of, days)), 0, 0, 1)

    old_lines = lines_of(days[0])
    days[0].write_text(days[0].read_text(encoding="utf-8") + "{broken\n", encoding="utf-8")
    os.utime(days[0], ns=(1, 1))  # a new version even where mtime resolution is coarse
    new_key = add_day(lake_dir, 4)
    second = stage_events(warehouse, lake_dir)
    added = lines_of(lake_dir / new_key)
    # The changed object's earlier rows were replaced, not copied: no duplicate events.
    assert replace(second, repaired_values=0) == StagingLoad(
        4, 2, old_lines + added, 1, old_lines, 2
    )

    assert manifest(warehouse) == {
        keys[0]: (version(days[0]), 2),
        keys[1]: (version(days[1]), 1),
        keys[2]: (version(days[2]), 1),
        new_key: (version(lake_dir / new_key), 2),
    }
    per_object = query(
        warehouse,
        "SELECT source_key, load_batch, COUNT(*) FROM staging_events GROUP BY 1, 2",
    )
    assert per_object == in_order(
        [(keys[0], 2, old_lines), (keys[1], 1, 400), (keys[2], 1, 400), (new_key, 2, added)]
    )
    assert query(warehouse, "SELECT source_key, source_line, load_batch FROM staging_rejects") == [
        (keys[0], old_lines + 1, 2)
    ]
    # Each object's rows and rejects in the manifest are those staged from it.
    sql = "SELECT object_key, load_batch, rows_loaded, rows_rejected FROM load_manifest"
    assert query(warehouse, sql) == in_order(
        [
            (keys[0], 2, old_lines, 1),
            (keys[1], 1, 400, 0),
            (keys[2], 1, 400, 0),
            (new_key, 2, added, 0),
        ]
    )

    # Unchanged: nothing loads, and no empty batch is recorded.
    before = batches(warehouse)
    assert stage_events(warehouse, lake_dir) == StagingLoad(4)
    assert (
        batches(warehouse)
        == before
        == [
            (1, EVENTS, 3, 3 * 400, 0, 0, False),
            (2, EVENTS, 2, old_lines + added, 1, old_lines, False),
        ]
    )
    with warehouse.session() as session:
        unknown = LakeObject("log_data/never-loaded.json", "1-1", 1)
        listed = [LakeObject(k, "?", 0) for k in keys] + [unknown]
        assert load_protocol.loaded_versions(session, EVENTS, listed) == {
            k: v[0] for k, v in manifest(warehouse).items() if k in keys
        }


def test_batch_numbers_only_grow_across_tables_and_full_refreshes(warehouse, lake_dir):
    song = sorted((lake_dir / "song_data").rglob("*.json"))[0]
    song.write_bytes(b'{"song_id": "SOBAD", "title": "\xff"}')  # a reject of each table
    day = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    day.write_text(day.read_text(encoding="utf-8") + "[1]\n", encoding="utf-8")
    assert stage_events(warehouse, lake_dir).load_batch == 1
    assert stage_prefix(warehouse, lake_dir, "staging_songs", "song_data/").load_batch == 2
    songs_manifest = {k: v for k, v in manifest(warehouse).items() if k.startswith("song_data/")}

    refresh = stage_events(warehouse, lake_dir, full_refresh=True)
    assert (refresh.load_batch, refresh.objects_loaded, refresh.rows_replaced) == (3, 3, 0)
    assert [b[:2] + b[-1:] for b in batches(warehouse)] == [
        (1, EVENTS, False),
        (2, "staging_songs", False),
        (3, EVENTS, True),
    ]
    assert query(warehouse, "SELECT DISTINCT load_batch FROM staging_events") == [(3,)]
    rejects = query(warehouse, "SELECT table_name, load_batch FROM staging_rejects")
    assert rejects == [(EVENTS, 3), ("staging_songs", 2)]  # the other table's stay
    after = manifest(warehouse)
    assert {v[1] for k, v in after.items() if k.startswith("log_data/")} == {3}
    assert {k: v for k, v in after.items() if k.startswith("song_data/")} == songs_manifest


def test_a_star_table_takes_in_each_batch_once_and_moves_its_watermark(warehouse, lake_dir):
    stage_events(warehouse, lake_dir)
    first = merge(warehouse, "users")
    assert first.windows == [Window(EVENTS, 0, 1, 0)] and first.rows_written > 0
    assert query(warehouse, "SELECT * FROM load_state") == [("users", EVENTS, 1)]

    again = merge(warehouse, "users")
    assert again == Merge([Window(EVENTS, 1, 1, 0)], 0, 0)

    add_day(lake_dir, 4)
    stage_events(warehouse, lake_dir)
    stage_prefix(warehouse, lake_dir, "staging_songs", "song_data/")  # batch 3: not the users'
    later = merge(warehouse, "users")
    assert later.windows == [Window(EVENTS, 1, 2, 0)] and later.rows_written > 0
    assert query(warehouse, "SELECT * FROM load_state") == [("users", EVENTS, 2)]
    assert read_table(warehouse, "users") == in_order(compute(lake_dir).users)

    refresh = merge(warehouse, "users", full_refresh=True)
    assert refresh.windows == [Window(EVENTS, 0, 2, 0)]
    assert read_table(warehouse, "users") == in_order(compute(lake_dir).users)


def test_a_star_table_prunes_only_after_a_load_that_replaced_rows(warehouse, lake_dir, monkeypatch):
    ran: list[tuple[str, str]] = []
    run = Session.run

    def recording_run(self, file, section, *args, **kwargs):
        ran.append((file, section))
        return run(self, file, section, *args, **kwargs)

    monkeypatch.setattr(Session, "run", recording_run)

    def merged_sections(table: str) -> list[str]:
        ran.clear()
        done = merge(warehouse, table)
        assert read_table(warehouse, table) == in_order(getattr(compute(lake_dir), table))
        sections = [section for file, section in ran if file == table]
        assert sections[-1] in ("merge", "prune")
        return [s for s in sections if s in ("merge", "prune")], done

    day = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    original = day.read_text(encoding="utf-8")
    newcomer = json.loads(original.splitlines()[0]) | {"userId": "99999", "page": "NextSong"}
    day.write_text(original + json.dumps(newcomer) + "\n", encoding="utf-8")
    stage_events(warehouse, lake_dir)
    assert merged_sections("users")[0] == ["merge"]  # a first load replaced nothing
    add_day(lake_dir, 4)
    stage_events(warehouse, lake_dir)
    assert merged_sections("users")[0] == ["merge"]  # a new object replaced nothing

    day.write_text(original, encoding="utf-8")  # the newcomer's only event goes
    os.utime(day, ns=(1, 1))
    assert stage_events(warehouse, lake_dir).rows_replaced > 0
    sections, done = merged_sections("users")
    assert sections == ["merge", "prune"] and done.rows_deleted >= 1
    assert 99999 not in {row[0] for row in read_table(warehouse, "users")}
    assert merged_sections("time")[0] == ["merge", "prune"]
    assert merged_sections("users")[0] == ["merge"]  # the replacing load is behind it now


def test_locks_come_first_in_the_transaction_after_the_tables_exist():
    assert load_protocol.staging_locks(EVENTS) == (
        EVENTS,
        "staging_rejects",
        "load_manifest",
        "load_batches",
        "text_repairs",
        "skipped_objects",
        "schema_drift",
    )
    writes, reads = load_protocol.star_locks("songplays", (EVENTS, "staging_songs"))
    assert writes == ("songplays", "load_state")
    assert reads == ("load_batches", "text_repairs", EVENTS, "staging_songs")

    warehouse = RecordingWarehouse()
    with load_protocol.locked(warehouse, writes, reads) as session:
        session.execute("SELECT 1")
    creates = []
    for table in (*writes, *reads):
        creates.append(f"CREATE TABLE IF NOT EXISTS {table}")
        if table == "load_batches":  # its columns added since, where the recording lacks them
            (no_rows,) = sql_files.statements("tables", "no_rows", "duckdb", slots=slots(table))
            adds = sql_files.statements(table, "added_columns", "duckdb")
            creates += [no_rows, *(add.split("(")[0].strip() for add in adds)]
    assert warehouse._log == [
        "open wait=True",
        *creates,  # in a transaction of their own, committed...
        "commit",
        "close",
        "open wait=True",
        "lock songplays,load_state",  # ...before the lock opens the loading transaction
        "SELECT 1",
        "commit",
        "close",
    ]


def test_reading_creates_what_is_missing_and_writes_nothing_else(duckdb_warehouse):
    tables = ("load_manifest", "songplays")
    with load_protocol.reading(duckdb_warehouse, tables) as session:
        assert [session.count(t) for t in tables] == [0, 0]
    listed = query(duckdb_warehouse, "SELECT table_name FROM information_schema.tables")
    assert listed == [("load_manifest",), ("songplays",)]
