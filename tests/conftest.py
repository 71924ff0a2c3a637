"""Shared fixtures: generated lakes, a DuckDB file per test, a PostgreSQL database per test.

PostgreSQL tests skip with the reason when no server answers, unless SPARKIFY_REQUIRE_SERVICES=1
(CI sets it), where they fail instead. The server is found through SPARKIFY_TEST_DB_HOST, _PORT,
_USER and _PASSWORD (default 127.0.0.1:5432, user `sparkify_test`, password `sparkify-test-pw`);
the user needs CREATEDB: each test gets a database of its own.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from pathlib import Path

import psycopg2
import pytest
from dagster import materialize

from sparkify_assets import sql_files
from sparkify_assets.checks import DEFAULT_MAX_REJECT_RATE, build_checks
from sparkify_assets.definitions import ALL_ASSETS
from sparkify_assets.generate import generate_lake
from sparkify_assets.resources.engines.base import Warehouse
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from sparkify_assets.resources.lake import Lake

REQUIRE_SERVICES = os.environ.get("SPARKIFY_REQUIRE_SERVICES") == "1"
PG = {
    "host": os.environ.get("SPARKIFY_TEST_DB_HOST", "127.0.0.1"),
    "port": int(os.environ.get("SPARKIFY_TEST_DB_PORT", "5432")),
    "user": os.environ.get("SPARKIFY_TEST_DB_USER", "sparkify_test"),
    # Distinct from every name, so a test can tell it never leaks into a log.
    "password": os.environ.get("SPARKIFY_TEST_DB_PASSWORD", "sparkify-test-pw"),
}
# Small but with every quirk: 3 days of events, a catalogue some plays match.
LAKE_SIZE = {"songs": 80, "users": 25, "days": 3, "events_per_day": 400, "seed": 7}
STAR_TABLES = ("songplays", "users", "songs", "artists", "time")


def service_unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (SPARKIFY_REQUIRE_SERVICES=1, so this is a failure)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def lake_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("lake-template")
    generate_lake(path, **LAKE_SIZE)
    return path


@pytest.fixture
def lake_dir(lake_template, tmp_path) -> Path:
    """A private copy of the generated lake, free to change."""
    path = tmp_path / "lake"
    shutil.copytree(lake_template, path)
    return path


@pytest.fixture
def duckdb_warehouse(tmp_path) -> Warehouse:
    return DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))


def _admin_connection():
    try:
        con = psycopg2.connect(dbname="postgres", connect_timeout=3, **PG)
    except psycopg2.OperationalError as exc:
        service_unavailable(
            f"no PostgreSQL server reachable at {PG['host']}:{PG['port']} as {PG['user']}: "
            f"{str(exc).strip().splitlines()[0]}"
        )
    con.autocommit = True
    return con


@pytest.fixture
def postgres_warehouse() -> Warehouse:
    """A Warehouse on a fresh PostgreSQL database, dropped after the test."""
    name = f"sparkify_test_{uuid.uuid4().hex[:12]}"
    with contextlib.closing(_admin_connection()) as admin, admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PostgresWarehouse(database=name, **PG)
    finally:
        drop_database(name)


def drop_database(name: str, attempts: int = 10) -> None:
    """Drop a test database. FORCE ends its sessions, but not an autovacuum worker (a superuser
    process a non-superuser may not end): wait for it to finish, a second or so."""
    for attempt in range(attempts):
        # A new connection each time: the test may have restarted the server.
        with contextlib.closing(_admin_connection()) as admin, admin.cursor() as cur:
            try:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except psycopg2.errors.InsufficientPrivilege:
                if attempt == attempts - 1:
                    raise
        time.sleep(1)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request) -> Warehouse:
    """Each engine that runs locally, in turn."""
    return request.getfixturevalue(f"{request.param}_warehouse")


def run_graph(
    warehouse: Warehouse,
    lake: str | Path,
    full_refresh: bool = False,
    max_reject_rate: float = DEFAULT_MAX_REJECT_RATE,
    **lake_options,
):
    """Materialize the whole graph with its checks in process; return the run's result."""
    run_config = None
    if full_refresh:
        tables = ("staging_events", "staging_songs", *STAR_TABLES)
        run_config = {"ops": {t: {"config": {"full_refresh": True}} for t in tables}}
    result = materialize(
        [*ALL_ASSETS, *build_checks(max_reject_rate)],
        resources={"warehouse": warehouse, "lake": Lake(url=str(lake), **lake_options)},
        run_config=run_config,
    )
    assert result.success
    return result


def in_order(rows) -> list[tuple]:
    """Rows sorted the same way whatever engine or computation produced them (NULLs last)."""
    return sorted(
        (tuple(r) for r in rows), key=lambda r: tuple((v is None, 0 if v is None else v) for v in r)
    )


def read_table(warehouse: Warehouse, table: str) -> list[tuple]:
    """Every row of `table`, without the load bookkeeping column, in `in_order`."""
    names = [c.name for c in sql_files.columns(table) if c.name != "load_batch"]
    columns = ", ".join(f'"{n}"' for n in names)
    with warehouse.session() as session:
        return in_order(session.query_text(f'SELECT {columns} FROM "{table}"')[1])


def metadata_of(result, asset: str) -> dict:
    """The metadata values of one asset's materialization in a run."""
    (event,) = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == asset
    ]
    return {k: v.value for k, v in event.metadata.items()}
