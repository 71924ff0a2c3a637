"""Shared fixtures: generated lakes, a DuckDB file per test, a PostgreSQL database per test, an S3
server, and warehouses that hold one run of the graph, built once and copied. Helpers that are not fixtures
are in support.py.

PostgreSQL tests skip with the reason when no server answers, unless SPARKIFY_REQUIRE_SERVICES=1
(CI sets it), where they fail instead. The server is found through SPARKIFY_TEST_DB_HOST, _PORT,
_USER and _PASSWORD (default 127.0.0.1:5432, user `sparkify_test`, password `sparkify-test-pw`);
the user needs CREATEDB: each test gets a database of its own.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

from sparkify_assets.generate import generate_lake
from sparkify_assets.resources.engines.base import Warehouse
from sparkify_assets.resources.engines.duckdb import DuckDBWarehouse
from sparkify_assets.resources.engines.postgres import PostgresWarehouse
from tests.s3_server import FAKE_CREDENTIALS, FOREIGN_SETTINGS, MOTO_SERVER, moto_server
from tests.support import (
    LAKE_SIZE,
    MANY,
    PG,
    connect_to,
    create_database,
    drop_database,
    put,
    run_graph,
)

# --- lakes -------------------------------------------------------------------------------------


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


# --- warehouses --------------------------------------------------------------------------------


@pytest.fixture
def duckdb_warehouse(tmp_path) -> Warehouse:
    return DuckDBWarehouse(path=str(tmp_path / "warehouse.duckdb"))


@pytest.fixture
def postgres_warehouse() -> Iterator[Warehouse]:
    """A Warehouse on a fresh PostgreSQL database, dropped after the test."""
    name = create_database()
    try:
        yield PostgresWarehouse(database=name, **PG)
    finally:
        drop_database(name)


@pytest.fixture(params=["duckdb", "postgres"])
def warehouse(request) -> Warehouse:
    """Each engine that runs locally, in turn."""
    return request.getfixturevalue(f"{request.param}_warehouse")


# --- warehouses that hold the whole graph already -----------------------------------------------
#
# What one run of the graph on the template lake builds, made once per session and copied for
# each test: a test whose subject is what happens after a first load starts from a copy (with
# `lake_dir`, whose objects have the template's versions) instead of loading again.


@pytest.fixture(scope="session")
def built_duckdb(lake_template, tmp_path_factory) -> SimpleNamespace:
    """The graph materialized once on the template lake into a DuckDB file, for tests that only
    read it or copy it: `path` and the run's `result`. Never write to `path`."""
    path = tmp_path_factory.mktemp("built") / "built.duckdb"
    result = run_graph(DuckDBWarehouse(path=str(path)), lake_template)
    return SimpleNamespace(path=path, result=result)


@pytest.fixture
def built_duckdb_copy(built_duckdb, tmp_path) -> Warehouse:
    """A private copy of `built_duckdb`'s warehouse, free to change."""
    copy = tmp_path / "built-copy.duckdb"
    shutil.copy(built_duckdb.path, copy)
    return DuckDBWarehouse(path=str(copy))


@pytest.fixture(scope="session")
def built_postgres_template(lake_template) -> Iterator[str]:
    """A PostgreSQL database with the graph materialized once on the template lake: only ever
    copied (CREATE DATABASE ... TEMPLATE), never connected to by a test."""
    name = create_database()
    try:
        run_graph(PostgresWarehouse(database=name, **PG), lake_template)
        yield name
    finally:
        drop_database(name)


@pytest.fixture
def built_postgres(built_postgres_template) -> Iterator[Warehouse]:
    """A private copy of `built_postgres_template`, dropped after the test."""
    name = create_database(template=built_postgres_template)
    try:
        yield PostgresWarehouse(database=name, **PG)
    finally:
        drop_database(name)


@pytest.fixture(params=["duckdb", "postgres"])
def built_warehouse(request) -> Warehouse:
    """Each local engine in turn, holding what one run of the graph on `lake_dir` builds."""
    copies = {"duckdb": "built_duckdb_copy", "postgres": "built_postgres"}
    return request.getfixturevalue(copies[request.param])


@pytest.fixture
def blocker(built_postgres):
    """A second connection to `built_postgres`, to hold locks a run will wait on."""
    con = connect_to(built_postgres.database)
    yield con
    con.close()


# --- S3 (moto's server mode, see s3_server.py) -------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The endpoint URL of one moto server shared by the session's tests."""
    if not MOTO_SERVER.exists():
        pytest.fail(f"{MOTO_SERVER} is missing: install the dev extras (moto[server])")
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_credentials(monkeypatch) -> None:
    """Fake credentials for this test only, and nothing pointing boto3 elsewhere."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    for name in FOREIGN_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.fixture
def s3_client(s3_endpoint, aws_credentials):
    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def s3_lake(s3_client) -> str:
    """A fresh bucket of its own for the test: the lake's URL, `s3://<bucket>/raw`."""
    bucket = f"lake-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=bucket)
    return f"s3://{bucket}/raw"


@pytest.fixture(scope="session")
def many_keys(s3_endpoint) -> tuple[str, list[str]]:
    """A lake of MANY song keys in a bucket of its own (filled once, about 30 s): its URL and raw
    keys, sorted, with a folder marker and a non-JSON key among them. A test that changes it puts
    it back as it was."""
    keys = [f"song_data/{chr(65 + i % 26)}/TR{i:07d}.json" for i in range(MANY)]
    keys += ["song_data/", "song_data/B/notes.txt"]  # listed, but not data
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket="many-keys")
    bodies = {k: b"" if k.endswith("/") else b'{"song_id": "x"}' for k in keys}
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: put(client, "s3://many-keys/raw", k, bodies[k]), keys))
    return "s3://many-keys/raw", sorted(keys)
