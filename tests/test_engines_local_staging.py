"""Staging by parsing here (resources/engines/local_staging.py): objects in bounded chunks, each
parsed once when clean and twice when it holds rejects, every record accounted for, object keys
that look like globs read as they are, and an S3 lake read many objects at once staging what
the same folder does."""

from __future__ import annotations

import json

import duckdb
import pytest

from sparkify_assets.load_progress import LoadProgress
from sparkify_assets.resources.engines import local_staging
from sparkify_assets.resources.engines.local_staging import (
    chunks,
    duckdb_execute,
    parser,
    stage_records,
)
from sparkify_assets.resources.lake import Lake, LakeObject
from tests.s3_server import latency_proxy
from tests.support import upload


def objects(*sizes: int) -> list[LakeObject]:
    return [LakeObject(f"log_data/{n}.json", "v1", size) for n, size in enumerate(sizes)]


def keys(chunked) -> list[list[str]]:
    return [[o.key.split("/")[1] for o in chunk] for chunk in chunked]


def test_chunks_hold_at_most_chunk_bytes_unless_one_object_is_bigger():
    assert keys(chunks(objects(4, 4, 4, 4), 8)) == [["0.json", "1.json"], ["2.json", "3.json"]]
    assert keys(chunks(objects(4, 20, 4), 8)) == [["0.json"], ["1.json"], ["2.json"]]
    assert keys(chunks(objects(3, 3, 3), 1024)) == [["0.json", "1.json", "2.json"]]
    assert list(chunks([], 8)) == []


def test_a_compressed_object_counts_as_the_json_it_likely_holds():
    gzipped = [LakeObject(f"log_data/{n}.json.gz", "v1", 4) for n in range(3)]
    assert [len(c) for c in chunks(gzipped, 80)] == [2, 1]  # 40 bytes of JSON each
    assert [len(c) for c in chunks(objects(4, 4, 4), 80)] == [3]


def test_chunks_hold_at_most_chunk_objects(monkeypatch):
    monkeypatch.setattr(local_staging, "CHUNK_OBJECTS", 2)
    assert [len(c) for c in chunks(objects(*[1] * 5), 1024)] == [2, 2, 1]


def test_duckdb_execute_passes_only_the_parameters_a_statement_names():
    with duckdb.connect() as con:
        (row,) = duckdb_execute(con, "SELECT $a + 1", {"a": 1, "unused": 2}).fetchall()
    assert row == (2,)


def write_events(lake_root, key: str, *records) -> None:
    path = lake_root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(r + "\n" for r in records), encoding="utf-8")


def event(ts: int, session: int = 1) -> str:
    return json.dumps(
        {"ts": ts, "sessionId": session, "itemInSession": 0, "page": "NextSong", "userId": "7"}
    )


class Sink:
    """A sink as an engine's: runs each query in the parsing DuckDB, keeps the rows per target,
    returns how many it loaded (or, to play a broken sink, `short` fewer)."""

    def __init__(self, con, short: int = 0):
        self.con, self.short = con, short
        self.calls: list[tuple[str, list[tuple]]] = []

    def __call__(self, target, query, params):
        rows = duckdb_execute(self.con, query, params).fetchall()
        self.calls.append((target, rows))
        return len(rows) - self.short


def stage(
    lake: Lake, sink_short=0, chunk_bytes=1024**3, table="staging_events", progress=None
) -> list[tuple[str, list[tuple]]]:
    listed = list(lake.list_objects("log_data/" if table == "staging_events" else "song_data/"))
    with parser() as con:
        sink = Sink(con, sink_short)
        stage_records(con, sink, table, lake, listed, 3, chunk_bytes, progress)
    return sink.calls


def staged(lake: Lake, table: str, progress=None) -> dict[str, list[tuple]]:
    """What staging `table` from `lake` loads, by target, rows sorted."""
    by_target = {}
    for target, rows in stage(lake, table=table, progress=progress):
        by_target.setdefault(target, []).extend(rows)
    return {target: sorted(rows, key=repr) for target, rows in by_target.items()}


def test_an_s3_lake_read_many_at_once_stages_what_the_same_folder_does(
    lake_template, s3_endpoint, s3_client, s3_lake
):
    """The generated lake (every quirk of the real data, rejects included), from S3 through a
    proxy with S3's latency, 16 GETs at once: the same rows and rejects as from the folder,
    and the progress counts every object and record."""
    upload(s3_client, lake_template, s3_lake)
    folder = Lake(url=str(lake_template))
    with latency_proxy(s3_endpoint, delay=0.03) as (endpoint, stats):
        s3 = Lake(url=s3_lake, s3_endpoint_url=endpoint, concurrency=16)
        for table in ("staging_songs", "staging_events"):
            lines = []
            progress = LoadProgress(table, lines.append)
            with progress.reporting(every=0.05):
                from_s3 = staged(s3, table, progress)
            assert from_s3 == staged(folder, table)
            records = sum(len(rows) for rows in from_s3.values())
            assert (progress.objects_done, progress.rows_done) == (progress.objects_total, records)
            assert lines and f"{progress.objects_total:,} objects" in lines[-1]
    assert stats.max_in_flight == 16
    assert "HEAD" not in stats.by_method


def test_a_clean_chunk_is_parsed_once_and_a_chunk_with_rejects_twice(tmp_path, source):
    write_events(tmp_path, "log_data/a.json", event(1), event(2))
    write_events(tmp_path, "log_data/b.json", event(3), "{not json")
    lake = Lake(url=str(tmp_path))

    calls = stage(lake, chunk_bytes=1)  # an object per chunk
    assert [(target, len(rows)) for target, rows in calls] == [
        ("staging_events", 2),  # a.json: clean, no second parse
        ("staging_events", 1),  # b.json: one row short of its records...
        ("staging_rejects", 1),  # ...so a second parse for its reject
    ]
    (reject,) = calls[-1][1]
    assert reject[:4] == ("staging_events", "log_data/b.json", 2, "invalid JSON")
    assert {row[-1] for _, rows in calls for row in rows} == {3}  # the load batch

    calls = stage(lake)  # both objects in one chunk: one parse for rows, one for rejects
    assert [(target, len(rows)) for target, rows in calls] == [
        ("staging_events", 3),
        ("staging_rejects", 1),
    ]


def test_rows_and_rejects_that_do_not_add_up_stop_the_load(tmp_path):
    write_events(tmp_path, "log_data/a.json", event(1), event(2), "[1]")
    with pytest.raises(RuntimeError, match="do not add up to the 3 records read"):
        stage(Lake(url=str(tmp_path)), sink_short=1)


@pytest.fixture(params=["bodies", "files"])
def source(request, monkeypatch) -> str:
    """Each way a chunk reaches DuckDB in turn: small objects' bytes, or files (every object
    counted as big)."""
    if request.param == "files":
        monkeypatch.setattr(local_staging, "SMALL_OBJECT_BYTES", 0)
    return request.param


def test_keys_with_glob_characters_are_read_as_they_are(tmp_path, source):
    """DuckDB expands globs even in a list of files: `*.json` must not read every file."""
    names = {"*.json": 1, "x[1]?.json": 2, "{a,b}.json": 3, "a.json": 4, "b.json": 5}
    for name, ts in names.items():
        write_events(tmp_path, f"log_data/{name}", event(ts))
    calls = stage(Lake(url=str(tmp_path)))
    ((target, rows),) = calls
    by_key = {row[-3]: row[15] for row in rows}  # source_key -> ts
    assert by_key == {f"log_data/{name}": ts for name, ts in names.items()}
    assert len(rows) == len(names)
