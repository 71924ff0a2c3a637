"""The PostgreSQL engine (resources/engines/postgres.py): a session is one transaction, its lock
holds a second writer until the first ends (and lets readers through), two runs creating a table
at once both go on, and staging through COPY keeps every value (NULL apart from '', doubles,
text with commas, quotes and line breaks)."""

from __future__ import annotations

import contextlib
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from sparkify_assets.lake_scan import loaded_versions
from sparkify_assets.resources.engines.postgres import PostgresSession
from sparkify_assets.resources.lake import Lake, LakeObject
from tests.support import connect_to, read_table, wait_for_blocked

STATE = {"consumer": "users", "source": "staging_events"}


def watermarks(warehouse) -> list[tuple]:
    with warehouse.session() as session:
        return session.query_text("SELECT * FROM load_state ORDER BY 1, 2")[1]


def exists(warehouse, table: str) -> bool:
    with warehouse.session() as session:
        return session.query_text("SELECT to_regclass(%(t)s) IS NOT NULL", {"t": table})[1][0][0]


def test_a_failed_session_leaves_nothing_of_what_it_did(postgres_warehouse):
    postgres_warehouse.ensure_tables(["load_state"])
    with postgres_warehouse.session() as session:
        session.run("load_state", "set", {**STATE, "load_batch": 1})
    with pytest.raises(RuntimeError, match="halfway"), postgres_warehouse.session() as session:
        session.run("load_state", "set", {**STATE, "load_batch": 2})
        session.create_table("songs")
        assert session.count("songs") == 0 and session.fetch("load_state", "get", STATE) == [(2,)]
        raise RuntimeError("halfway")
    assert watermarks(postgres_warehouse) == [("users", "staging_events", 1)]
    assert not exists(postgres_warehouse, "songs")  # the DDL went too


def test_execute_returns_the_rows_a_statement_changed(postgres_warehouse):
    postgres_warehouse.ensure_tables(["load_state"])
    with postgres_warehouse.session() as session:
        insert = "INSERT INTO load_state VALUES ('a', 'b', 1), ('a', 'c', 2), ('d', 'b', 3)"
        assert session.execute(insert) == 3
        assert session.execute("DELETE FROM load_state WHERE consumer = 'a'") == 2
        assert session.execute("DELETE FROM load_state WHERE consumer = 'zzz'") == 0
        assert session.count("load_state") == 1


def test_load_objects_holds_exactly_the_objects_given_last(postgres_warehouse):
    odd = [
        LakeObject('log_data/it\'s, "quoted".json', '"etag"', 10),
        LakeObject("song_data/ünï/line\nbreak.json", "1-2", 0),
        LakeObject("log_data/*.json", "x" * 128, 2**40),
        LakeObject("log_data/asked-by-a-sensor.json", "", 0),  # a tick knows only the key
    ]
    with postgres_warehouse.session() as session:
        session.fill_load_objects(odd)
        listed = session.query_text("SELECT object_key, etag, size FROM load_objects")[1]
        assert sorted(listed) == sorted((o.key, o.etag, o.size) for o in odd)
        session.fill_load_objects(odd[:1])
        assert session.count("load_objects") == 1
        session.fill_load_objects([])
        assert session.count("load_objects") == 0


def test_the_lock_holds_a_second_writer_until_the_first_ends_and_lets_readers_through(
    postgres_warehouse,
):
    postgres_warehouse.ensure_tables(["load_state"])

    def second_writer():
        with postgres_warehouse.session() as session:
            session.lock("load_state")
            seen = session.fetch("load_state", "get", STATE)
            session.run("load_state", "set", {**STATE, "load_batch": 2})
            return seen

    with ThreadPoolExecutor(1) as pool:
        with postgres_warehouse.session() as first:
            first.lock("load_state")
            first.run("load_state", "set", {**STATE, "load_batch": 1})
            second = pool.submit(second_writer)
            wait_for_blocked(postgres_warehouse.database, "LOCK TABLE")
            assert not second.done()
            # A reader is not held (it would wait past the timeout and fail), and sees only
            # what is committed.
            with contextlib.closing(connect_to(postgres_warehouse.database)) as reader:
                with reader.cursor() as cur:
                    cur.execute("SET statement_timeout = '5s'")
                    cur.execute("SELECT COUNT(*) FROM load_state")
                    assert cur.fetchone() == (0,)
            assert not second.done()
        # The first committed: the second went on, and read what the first wrote.
        assert second.result(timeout=30) == [(1,)]
    assert watermarks(postgres_warehouse) == [("users", "staging_events", 2)]


def create_in_a_session(warehouse, table: str) -> None:
    with warehouse.session() as session:
        session.create_table(table)


def test_two_sessions_creating_the_same_table_at_once_both_go_on(postgres_warehouse):
    # The engine's own create, not ensure_tables: its one retry would hide a missing DDL lock.
    with ThreadPoolExecutor(1) as pool:
        with postgres_warehouse.session() as first:
            first.create_table("users")
            second = pool.submit(create_in_a_session, postgres_warehouse, "users")
            wait_for_blocked(postgres_warehouse.database, "")  # the second waits for the first
        second.result(timeout=30)  # no error: it waited, then found the table
    assert exists(postgres_warehouse, "users")


EVENT = {
    "artist": "", "auth": "Logged Out", "firstName": "TÃº", "gender": None,
    "itemInSession": 0, "lastName": "O'Neil, \"Jr\"", "length": 0.1 + 0.2, "level": "free",
    "location": 'Paris, "Left Bank"\nFrance \\ Europe', "method": "GET", "page": "Home",
    "registration": None, "sessionId": 7, "song": "1888", "status": 200, "ts": 1541290000123,
    "userAgent": "\"Mozilla/5.0 (X11; Linux x86_64)\"", "userId": "",
}  # fmt: skip


@pytest.mark.parametrize("chunk_bytes", [None, 1], ids=["one COPY", "a COPY per object"])
def test_staging_through_copy_keeps_every_value(
    postgres_warehouse, duckdb_warehouse, tmp_path, chunk_bytes, monkeypatch
):
    if chunk_bytes:
        monkeypatch.setattr(PostgresSession, "chunk_bytes", chunk_bytes)
    days = tmp_path / "log_data" / "2018" / "11"
    days.mkdir(parents=True)
    for day in (1, 2):
        events = [{**EVENT, "itemInSession": n, "length": n + 218.93179} for n in range(3)]
        lines = [json.dumps(EVENT, ensure_ascii=False), *map(json.dumps, events), "{bad"]
        (days / f"2018-11-0{day}-events.json").write_text("\n".join(lines) + "\n", "utf-8")
    lake = Lake(url=str(tmp_path))
    listed = list(lake.list_objects("log_data/"))
    for warehouse in (postgres_warehouse, duckdb_warehouse):
        warehouse.ensure_tables(["staging_events", "staging_rejects"])
        with warehouse.session() as session:
            session.stage("staging_events", lake, listed, 1)

    staged = read_table(postgres_warehouse, "staging_events")
    assert staged == read_table(duckdb_warehouse, "staging_events")
    first = [r for r in staged if r[4] == 0 and r[6] == EVENT["length"]]
    assert len(first) == 2 and len(staged) == 8
    row = dict(zip([k.lower() for k in EVENT], first[0], strict=False))
    assert row == {k.lower(): v for k, v in EVENT.items()}  # '' stays '', None stays NULL
    assert {r[6] for r in staged} == {EVENT["length"], 218.93179, 219.93179, 220.93179}
    rejects = read_table(postgres_warehouse, "staging_rejects")
    assert rejects == read_table(duckdb_warehouse, "staging_rejects")
    assert [(r[2], r[3]) for r in rejects] == [(5, "invalid JSON")] * 2


def test_never_busy_and_its_location_holds_no_password(postgres_warehouse):
    assert postgres_warehouse.busy() is False
    assert postgres_warehouse.password not in postgres_warehouse.location
    assert postgres_warehouse.location.startswith(f"postgres://{postgres_warehouse.user}@")


def test_a_sensor_tick_asks_postgres_what_was_loaded(postgres_warehouse):
    """A tick knows a key, not its version: an empty version must reach load_objects as ''."""
    assert loaded_versions(postgres_warehouse, "staging_events", ["log_data/a.json"]) == {}
