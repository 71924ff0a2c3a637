"""The DuckDB engine (resources/engines/duckdb.py): a session is one transaction on the file, a
second process waits for the file (or, for a sensor tick, sees at once that it is held), and the
session's own statements (row counts, load_objects) do what the load protocol needs."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest

from sparkify_assets.resources.engines import duckdb as engine
from sparkify_assets.resources.engines.base import WarehouseBusy
from sparkify_assets.resources.lake import LakeObject
from tests.support import held_by_another_process

STATE = {"consumer": "users", "source": "staging_events"}


def tables(warehouse) -> set[str]:
    with warehouse.session() as session:
        return {
            r[0] for r in session.query_text("SELECT table_name FROM information_schema.tables")[1]
        }


def watermarks(warehouse) -> list[tuple]:
    with warehouse.session() as session:
        return session.query_text("SELECT * FROM load_state ORDER BY 1, 2")[1]


def test_a_failed_session_leaves_nothing_of_what_it_did(duckdb_warehouse):
    duckdb_warehouse.ensure_tables(["load_state"])
    with duckdb_warehouse.session() as session:
        session.run("load_state", "set", {**STATE, "load_batch": 1})
    with pytest.raises(RuntimeError, match="halfway"), duckdb_warehouse.session() as session:
        session.run("load_state", "set", {**STATE, "load_batch": 2})
        session.create_table("songs")
        assert session.count("songs") == 0 and session.fetch("load_state", "get", STATE) == [(2,)]
        raise RuntimeError("halfway")
    assert watermarks(duckdb_warehouse) == [("users", "staging_events", 1)]
    assert "songs" not in tables(duckdb_warehouse)  # the DDL went too


def test_execute_returns_the_rows_a_statement_changed(duckdb_warehouse):
    duckdb_warehouse.ensure_tables(["load_state"])
    with duckdb_warehouse.session() as session:
        insert = "INSERT INTO load_state VALUES ('a', 'b', 1), ('a', 'c', 2), ('d', 'b', 3)"
        assert session.execute(insert) == 3
        assert session.execute("DELETE FROM load_state WHERE consumer = 'a'") == 2
        assert session.execute("DELETE FROM load_state WHERE consumer = 'zzz'") == 0
        assert session.execute("CREATE TEMP TABLE t (x INTEGER)") == -1
        assert session.count("load_state") == 1


def test_load_objects_holds_exactly_the_objects_given_last(duckdb_warehouse):
    odd = [
        LakeObject('log_data/it\'s, "quoted".json', '"etag"', 10),
        LakeObject("song_data/ünï/line\nbreak.json", "1-2", 0),
        LakeObject("log_data/*.json", "x" * 128, 2**40),
    ]
    with duckdb_warehouse.session() as session:
        session.fill_load_objects(odd)
        listed = session.query_text("SELECT object_key, etag, size FROM load_objects")[1]
        assert sorted(listed) == sorted((o.key, o.etag, o.size) for o in odd)
        session.fill_load_objects(odd[:1])
        assert session.count("load_objects") == 1
        session.fill_load_objects([])
        assert session.count("load_objects") == 0


def test_location_is_the_resolved_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert engine.DuckDBWarehouse(path="w.duckdb").location == str(tmp_path.resolve() / "w.duckdb")


def test_busy_only_while_another_process_holds_the_file(duckdb_warehouse):
    path = Path(duckdb_warehouse.path)
    assert duckdb_warehouse.busy() is False and not path.exists()  # asking creates nothing
    duckdb_warehouse.ensure_tables(["load_state"])
    assert duckdb_warehouse.busy() is False
    with held_by_another_process(duckdb_warehouse.path):
        assert duckdb_warehouse.busy() is True
        with pytest.raises(WarehouseBusy, match=f"another process holds the DuckDB file {path}"):
            with duckdb_warehouse.session(wait=False):
                pass
    assert duckdb_warehouse.busy() is False


def test_a_session_waits_for_the_file_while_another_process_holds_it(duckdb_warehouse):
    duckdb_warehouse.ensure_tables(["load_state"])
    with held_by_another_process(duckdb_warehouse.path, seconds=1.5):
        started = time.monotonic()
        with duckdb_warehouse.session() as session:  # waits, then gets the file
            session.run("load_state", "set", {**STATE, "load_batch": 1})
        assert time.monotonic() - started >= 1.0
    assert watermarks(duckdb_warehouse) == [("users", "staging_events", 1)]


def test_a_session_stops_waiting_after_the_lock_wait(duckdb_warehouse, monkeypatch):
    duckdb_warehouse.ensure_tables(["load_state"])
    monkeypatch.setattr(engine, "LOCK_WAIT_SECONDS", 0.5)
    with held_by_another_process(duckdb_warehouse.path):
        with pytest.raises(duckdb.IOException, match="(?i)lock"), duckdb_warehouse.session():
            pass
