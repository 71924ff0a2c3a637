"""The same lake in, the same rows out: DuckDB and PostgreSQL build identical tables, and a lake in
S3 (moto's server mode, over HTTP) builds the same warehouse as the same lake in a folder."""

from __future__ import annotations

from pathlib import Path

from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.lake import Lake
from tests.support import ALL_TABLES, LAKE_SIZE, add_day, read_all, read_table, run_graph, upload


def test_duckdb_and_postgres_build_identical_tables(duckdb_warehouse, postgres_warehouse, lake_dir):
    """Same lake in, same rows out, row by row: also after a new day and a rerun."""
    for warehouse in (duckdb_warehouse, postgres_warehouse):
        run_graph(warehouse, lake_dir)
    assert read_all(duckdb_warehouse) == read_all(postgres_warehouse)

    add_day(lake_dir, LAKE_SIZE["days"] + 1)
    for warehouse in (duckdb_warehouse, postgres_warehouse):
        run_graph(warehouse, lake_dir)
        run_graph(warehouse, lake_dir)
    assert read_all(duckdb_warehouse) == read_all(postgres_warehouse)


def add_bad_records(lake_dir: Path) -> None:
    """A malformed event line and a song object that is not UTF-8: rejects must match too."""
    day = sorted((lake_dir / "log_data").rglob("*.json"))[0]
    with day.open("a", encoding="utf-8") as f:
        f.write('{"ts": 1541105830796, "page": "NextSong", "broken\n')
    bad_song = lake_dir / "song_data" / "Z" / "Z" / "Z" / "TRZZZBADBYTES0001.json"
    bad_song.parent.mkdir(parents=True, exist_ok=True)
    bad_song.write_bytes(b'{"song_id": "SOBAD", "title": "\xff\xfe"}')


def test_s3_lake_builds_the_same_tables_as_the_folder(
    lake_dir, s3_endpoint, s3_lake, s3_client, tmp_path
):
    add_bad_records(lake_dir)
    upload(s3_client, lake_dir, s3_lake)
    from_folder = DuckDBWarehouse(path=str(tmp_path / "folder.duckdb"))
    from_s3 = DuckDBWarehouse(path=str(tmp_path / "s3.duckdb"))

    # One bad song in 81 is over the blocking reject-rate check's default share.
    run_graph(from_folder, lake_dir, max_reject_rate=1.0)
    run_graph(from_s3, s3_lake, max_reject_rate=1.0, s3_endpoint_url=s3_endpoint)

    for table in (*ALL_TABLES, "staging_rejects"):
        assert read_table(from_s3, table) == read_table(from_folder, table), table
    assert read_table(from_s3, "songplays") and read_table(from_s3, "staging_rejects")
    # The manifest holds S3's own ETags: what the sensors compare listings with.
    lake = Lake(url=s3_lake, s3_endpoint_url=s3_endpoint)
    listed = {o.key: o.etag for p in ("log_data/", "song_data/") for o in lake.list_objects(p)}
    with from_s3.session() as session:
        recorded = dict(session.query_text("SELECT object_key, etag FROM load_manifest")[1])
    assert recorded == listed
