"""What every engine shares (resources/engines/base.py): one transaction per session, committed on
success and rolled back on any error; tables created in a transaction of their own; a preflight
connect line; failures that say where and as whom, never with the secret."""

from __future__ import annotations

import pytest

from sparkify_assets.resources.engines import base
from sparkify_assets.resources.engines.base import (
    Finding,
    WarehouseUnavailable,
    slots,
    without_secret,
)
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from sparkify_assets.resources.lake import Lake
from tests.support import RecordingWarehouse


def test_a_session_commits_what_succeeded_then_closes():
    warehouse = RecordingWarehouse()
    with warehouse.session() as session:
        session.execute("INSERT INTO users VALUES (1)")
    assert warehouse._log == ["open wait=True", "INSERT INTO users VALUES", "commit", "close"]


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_session_rolls_back_on_any_error_and_raises_it(error):
    warehouse = RecordingWarehouse()
    with pytest.raises(type(error)), warehouse.session(wait=False) as session:
        session.execute("INSERT INTO users VALUES (1)")
        raise error
    assert warehouse._log == ["open wait=False", "INSERT INTO users VALUES", "rollback", "close"]


def test_tables_are_created_in_one_transaction_of_their_own():
    warehouse = RecordingWarehouse()
    warehouse.ensure_tables(["users", "load_state"], wait=False)
    assert warehouse._log == [
        "open wait=False",
        "CREATE TABLE IF NOT EXISTS users",
        "CREATE TABLE IF NOT EXISTS load_state",
        "commit",
        "close",
    ]


def test_tables_are_created_once_per_process_and_warehouse():
    warehouse = RecordingWarehouse()
    warehouse.ensure_tables(["users"])
    warehouse._log.clear()
    warehouse.ensure_tables(["users"])
    assert warehouse._log == []  # known to exist: not even a connection
    warehouse.ensure_tables(["users", "time"])
    assert warehouse._log == [
        "open wait=True",
        'CREATE TABLE IF NOT EXISTS "time"',
        "commit",
        "close",
    ]
    # Another warehouse has tables of its own.
    other = RecordingWarehouse()
    other.ensure_tables(["users"])
    assert "CREATE TABLE IF NOT EXISTS users" in other._log


def test_tables_that_failed_to_be_created_are_created_next_time():
    warehouse = RecordingWarehouse(refuse="unavailable")
    with pytest.raises(WarehouseUnavailable):
        warehouse.ensure_tables(["users"])
    working = warehouse.model_copy(update={"refuse": ""})
    working.ensure_tables(["users"])
    assert "CREATE TABLE IF NOT EXISTS users" in working._log


CATALOG_RACE = RuntimeError('duplicate key value violates unique constraint "pg_type_typname"')


def losing_creates(monkeypatch, losses: int) -> list[list[str]]:
    """Make RecordingWarehouse's creating transaction fail `losses` times, as one that lost a
    race on the catalog to another run does; return the tables of each attempt."""
    attempts: list[list[str]] = []
    create = RecordingWarehouse._create

    def losing(self, tables, wait):
        attempts.append(list(tables))
        if len(attempts) <= losses:
            raise CATALOG_RACE
        create(self, tables, wait)

    monkeypatch.setattr(RecordingWarehouse, "_create", losing)
    monkeypatch.setattr(base.time, "sleep", lambda seconds: None)
    return attempts


def test_a_create_that_lost_a_race_is_tried_once_more(monkeypatch):
    attempts = losing_creates(monkeypatch, losses=1)
    warehouse = RecordingWarehouse()
    warehouse.ensure_tables(["users"])
    assert attempts == [["users"], ["users"]]
    assert "CREATE TABLE IF NOT EXISTS users" in warehouse._log
    warehouse.ensure_tables(["users"])
    assert len(attempts) == 2  # created: remembered


def test_a_create_that_fails_twice_raises_and_is_not_remembered(monkeypatch):
    attempts = losing_creates(monkeypatch, losses=2)
    warehouse = RecordingWarehouse()
    with pytest.raises(RuntimeError, match="duplicate key"):
        warehouse.ensure_tables(["users"])
    assert len(attempts) == 2
    warehouse.ensure_tables(["users"])  # tried again on the next call
    assert attempts[-1] == ["users"] and "CREATE TABLE IF NOT EXISTS users" in warehouse._log


def test_an_unreachable_warehouse_is_not_tried_again(monkeypatch):
    attempts = losing_creates(monkeypatch, losses=0)
    with pytest.raises(WarehouseUnavailable):
        RecordingWarehouse(refuse="unavailable").ensure_tables(["users"])
    assert len(attempts) == 1


def test_run_query_and_count_go_through_the_sql_files():
    warehouse = RecordingWarehouse()
    with warehouse.session() as session:
        assert session.run("load_state", "set", {"consumer": "users"}) == [1, 1]
        assert session.count("users") == 5
        assert session.fetch("load_batches", "next_batch") == [(5,)]
        with pytest.raises(ValueError):  # a section of two statements is not one query
            session.query("load_state", "set")
    assert warehouse._log[1:3] == [
        "DELETE FROM load_state WHERE consumer = $consumer AND source = $source",
        "INSERT INTO load_state",
    ]
    assert warehouse._log[3] == 'SELECT COUNT(*) FROM "users"'


def test_preflight_says_whether_the_warehouse_answers():
    lake = Lake()
    warehouse = RecordingWarehouse(name="here")
    assert warehouse.preflight(lake, {}) == [Finding("connect", True, "connected to memory://here")]
    for refuse, detail in (
        ("unavailable", "cannot connect: no route to nowhere"),
        ("busy", "another process holds nowhere"),
    ):
        assert RecordingWarehouse(refuse=refuse).preflight(lake, {}) == [
            Finding("connect", False, detail)
        ]


def test_a_warehouse_that_takes_concurrent_sessions_is_never_busy():
    assert RecordingWarehouse().busy() is False


def test_slots_name_what_is_given_in_a_fixed_order():
    assert slots() == ()
    assert slots("users") == (("table", "users"),)
    assert slots(tables=("users", "time"), columns=("a", "b")) == (
        ("tables", "users,time"),
        ("columns", "a,b"),
    )


def test_without_secret_gives_one_line_with_the_secret_masked():
    message = 'FATAL:  password "hunter2" is wrong\n  DETAIL: hunter2 again\n'
    assert without_secret(message, "hunter2") == 'FATAL:  password "***" is wrong DETAIL: *** again'
    assert without_secret(message, None) == (
        'FATAL:  password "hunter2" is wrong DETAIL: hunter2 again'
    )


def test_a_server_failure_says_where_and_as_whom_never_the_password():
    warehouse = PostgresWarehouse(
        host="db.example", port=5555, database="dw", user="loader", password="hunter2"
    )
    assert warehouse.location == "postgres://loader@db.example:5555/dw"
    error = warehouse.unavailable(RuntimeError('FATAL: password "hunter2" refused\nfor loader'))
    assert str(error) == (
        "cannot connect to the postgres warehouse at postgres://loader@db.example:5555/dw: "
        'FATAL: password "***" refused for loader '
        "(check SPARKIFY_DB_HOST, _PORT, _NAME, _USER, _PASSWORD)"
    )
    # A secret of the moment (a temporary IAM password) is masked instead.
    token = warehouse.unavailable(RuntimeError("token tok-123 expired"), secret="tok-123")
    assert "tok-123" not in str(token) and "token *** expired" in str(token)
    # An error without text still says what it was.
    assert "TimeoutError()" in str(warehouse.unavailable(TimeoutError()))
