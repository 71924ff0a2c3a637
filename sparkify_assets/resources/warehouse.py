"""The warehouse: one Dagster resource, one small interface, three engines.

- `duckdb` (default): an embedded database file; no server, no AWS account.
- `postgres`: a PostgreSQL server over psycopg2, the local stand-in for Redshift's wire protocol
  and transactions.
- `redshift`: production (see `redshift.py`).

Every asset works through `Warehouse.session()`: one connection, one transaction. Whatever the
asset writes commits together or not at all, so a failed run leaves its tables as they were.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import psycopg2
from dagster import Backoff, ConfigurableResource, RetryPolicy
from dagster_aws.redshift import RedshiftClientResource
from pydantic import Field

from sparkify_assets import sql_files
from sparkify_assets.resources import json_records
from sparkify_assets.resources.lake import Lake, LakeObject

ENGINES = ("duckdb", "postgres", "redshift")
WAREHOUSE_POOL = "warehouse"  # Dagster concurrency pool of every step that writes or reads it
# What every asset step that works in the warehouse shares: its pool, and retries for what passes
# (a server restarting, a network blip). A retry is safe: a failed step rolled back everything.
WAREHOUSE_STEP = {
    "pool": WAREHOUSE_POOL,
    "retry_policy": RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL),
}
DEFAULT_DUCKDB_PATH = Path(__file__).resolve().parents[2] / "data" / "sparkify.duckdb"
# Objects parsed per statement: bounds the spool folder on S3 lakes (DuckDB streams the files,
# its memory stays within DUCKDB_CONFIG). Few, big statements: DuckDB's commit costs more with
# every statement that inserted into the table (10M events: 4 s at 256 MB chunks, ~0 at 1 GB).
CHUNK_OBJECTS = 2_000
CHUNK_BYTES = 1024 * 1024 * 1024
COPY_READ_BYTES = 1024 * 1024  # psycopg2 sends a COPY's input in reads of this size
# Bounded memory (DuckDB spills past it); row order in a table means nothing here.
DUCKDB_CONFIG = {"memory_limit": "768MB", "preserve_insertion_order": False}
GLOB_CHARACTERS = set("*?[]{}")
LOAD_OBJECTS_COLUMNS = ("object_key", "etag", "size", "rows_loaded", "rows_rejected")


class Session:
    """One connection and its transaction; subclasses supply the engine."""

    dialect: str
    chunk_bytes = CHUNK_BYTES

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """Run one statement; return the rows it changed (-1 when that means nothing)."""
        raise NotImplementedError

    def fetch(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        return self.query(sql, params)[1]

    def query(
        self, sql: str, params: dict[str, Any] | None = None
    ) -> tuple[list[str], list[tuple]]:
        """Run a query; return its column names and rows."""
        raise NotImplementedError

    def run(self, file: str, section: str, params: dict[str, Any] | None = None) -> list[int]:
        """Run the statements of a section of `sql/<file>.sql`; return each one's row count."""
        return [self.execute(s, params) for s in sql_files.statements(file, section, self.dialect)]

    def fetch_section(self, file: str, section: str, params: dict[str, Any] | None = None):
        (statement,) = sql_files.statements(file, section, self.dialect)
        return self.fetch(statement, params)

    def create_table(self, table: str) -> None:
        self.run(table, "create")

    def analyze(self, table: str) -> None:
        """Refresh the planner's statistics of a table this transaction changed a lot.

        PostgreSQL and Redshift would otherwise plan the next asset's joins from a guess (an
        empty table, say) and pick nested loops: ten minutes instead of seconds for songplays.
        """
        self.execute(f'ANALYZE "{table}"')

    def lock(self, table: str) -> None:
        """Hold `table` against other writers until this transaction ends.

        Two runs at once would both read the same manifest or watermark and write the same rows
        twice; with the lock the second waits, then sees what the first committed.
        """
        self.execute(f'LOCK TABLE "{table}" IN SHARE ROW EXCLUSIVE MODE')

    def count(self, table: str) -> int:
        return self.fetch(f'SELECT COUNT(*) FROM "{table}"')[0][0]

    def load_objects(self, rows: Sequence[tuple]) -> None:
        """Replace the session's temp table `load_objects` (LOAD_OBJECTS_COLUMNS) with `rows`."""
        raise NotImplementedError

    def stage(
        self, table: str, lake: Lake, objects: Sequence[LakeObject], load_batch: int
    ) -> dict[str, tuple[int, int]]:
        """Load `objects` into staging `table` and its rejects; return per key (rows, rejects)."""
        counts: dict[str, tuple[int, int]] = {}
        with _parser(self) as parser, self._row_loader(parser) as load:
            for chunk in _chunks(objects, self.chunk_bytes):
                with lake.local_files(o.key for o in chunk) as paths:
                    counts.update(_stage_chunk(parser, load, table, paths, load_batch))
        return counts

    def _row_loader(self, parser: duckdb.DuckDBPyConnection):
        """A context giving `load(target, query, params) -> rows`: puts the rows of a DuckDB
        query run on `parser` into the warehouse table `target`."""
        raise NotImplementedError


def _chunks(objects: Sequence[LakeObject], chunk_bytes: int) -> Iterator[list[LakeObject]]:
    chunk: list[LakeObject] = []
    size = 0
    for obj in objects:
        if chunk and (len(chunk) >= CHUNK_OBJECTS or size + obj.size > chunk_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(obj)
        size += obj.size
    if chunk:
        yield chunk


@contextlib.contextmanager
def _parser(session: Session) -> Iterator[duckdb.DuckDBPyConnection]:
    """The DuckDB connection that parses raw JSON: the warehouse itself, or an in-memory one."""
    if isinstance(session, DuckDBSession):
        yield session.con
        return
    con = duckdb.connect(config={**DUCKDB_CONFIG, "threads": 2})
    try:
        yield con
    finally:
        con.close()


def _stage_chunk(parser, load, table, paths, load_batch) -> dict[str, tuple[int, int]]:
    """Load a chunk of objects into `table` and its rejects; return per key (rows, rejects)."""
    keys = list(paths)
    with tempfile.TemporaryDirectory(prefix="sparkify-names-") as aliases:
        files = [_literal_path(paths[k], Path(aliases), n) for n, k in enumerate(keys)]
        params = {"load_batch": load_batch, **json_records.chunk_params(keys, files)}
        loaded = load(table, json_records.good_rows_query(table), params)
        records = dict(_execute(parser, json_records.RECORD_COUNTS_QUERY, params).fetchall())
        rejected: dict[str, int] = {}
        if loaded < sum(records.values()):
            # Some records broke a rule: a second parse keeps just those (clean data parses once).
            rejects = json_records.rejects_query(table)
            _execute(parser, f"CREATE OR REPLACE TEMP TABLE chunk_rejects AS {rejects}", params)
            per_key = "SELECT source_key, COUNT(*) FROM chunk_rejects GROUP BY 1"
            rejected = dict(parser.execute(per_key).fetchall())
            load("staging_rejects", "SELECT * FROM chunk_rejects", {})
    if loaded + sum(rejected.values()) != sum(records.values()):
        raise RuntimeError(
            f"{table}: {loaded} rows and {sum(rejected.values())} rejects do not add up to the "
            f"{sum(records.values())} records read; nothing of this load is kept"
        )
    return {k: (records.get(k, 0) - rejected.get(k, 0), rejected.get(k, 0)) for k in keys}


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None):
    """Run a DuckDB statement with the parameters it names: DuckDB refuses extra ones (psycopg2
    ignores them, so callers pass one set for every engine)."""
    return con.execute(sql, {k: v for k, v in (params or {}).items() if f"${k}" in sql})


def _literal_path(path: Path, aliases: Path, n: int) -> str:
    """A name DuckDB reads as it is: it expands glob characters even in a list of files, so a
    key like `log_data/*.json` would read every file. Such a file is read through a plain link."""
    if not GLOB_CHARACTERS.intersection(str(path)):
        return str(path)
    alias = aliases / f"{n}.json"
    alias.symlink_to(path.resolve())
    return str(alias)


class DuckDBSession(Session):
    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con = con

    def lock(self, table):
        # One process writes a DuckDB file at a time: the file lock already serializes runs.
        pass

    def analyze(self, table):
        # DuckDB keeps its statistics as it writes.
        pass

    def execute(self, sql, params=None):
        cursor = _execute(self.con, sql, params)
        if cursor.description and cursor.description[0][0] == "Count":
            row = cursor.fetchone()
            return row[0] if row else -1
        return -1

    def query(self, sql, params=None):
        cursor = _execute(self.con, sql, params)
        return [d[0] for d in cursor.description], cursor.fetchall()

    def load_objects(self, rows):
        columns = list(zip(*rows, strict=True)) if rows else [[]] * len(LOAD_OBJECTS_COLUMNS)
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE load_objects AS SELECT "
            + ", ".join(
                f"CAST(unnest(${c}) AS {'VARCHAR' if i < 2 else 'BIGINT'}) AS {c}"
                for i, c in enumerate(LOAD_OBJECTS_COLUMNS)
            ),
            dict(zip(LOAD_OBJECTS_COLUMNS, map(list, columns), strict=True)),
        )

    @contextlib.contextmanager
    def _row_loader(self, parser):
        def load(target, query, params):
            # The parser is this connection: the rows go straight from the files to the table.
            return _execute(self.con, f"INSERT INTO {target} {query}", params).fetchone()[0]

        yield load


class PostgresSession(Session):
    dialect = "postgres"
    # Small chunks: the COPY of each overlaps the parse of the next.
    chunk_bytes = 32 * 1024 * 1024
    DDL_LOCK = 730_001  # an advisory lock id of this project's own

    def __init__(self, con):
        self.con = con

    def create_table(self, table):
        # Two runs creating the same table at once: the second would fail on PostgreSQL's
        # catalog. A transaction-long advisory lock makes it wait, then find the table there.
        if self.fetch("SELECT to_regclass(%(name)s)", {"name": f'"{table}"'})[0][0] is None:
            self.execute("SELECT pg_advisory_xact_lock(%(id)s)", {"id": self.DDL_LOCK})
            super().create_table(table)

    def execute(self, sql, params=None):
        with self.con.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount

    def query(self, sql, params=None):
        with self.con.cursor() as cur:
            cur.execute(sql, params)
            return [d[0] for d in cur.description], cur.fetchall()

    def copy_csv(self, table: str, columns: Sequence[str], stream) -> None:
        with self.con.cursor() as cur:
            cur.copy_expert(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)",
                stream,
                size=COPY_READ_BYTES,
            )

    def load_objects(self, rows):
        self.execute("DROP TABLE IF EXISTS load_objects")
        self.execute(
            "CREATE TEMP TABLE load_objects (object_key VARCHAR(1024), etag VARCHAR(128), "
            "size BIGINT, rows_loaded BIGINT, rows_rejected BIGINT)"
        )
        buffer = io.StringIO()
        csv.writer(buffer).writerows(rows)
        buffer.seek(0)
        self.copy_csv("load_objects", LOAD_OBJECTS_COLUMNS, buffer)
        self.execute("ANALYZE load_objects")  # its real size, not the planner's guess

    @contextlib.contextmanager
    def _row_loader(self, parser):
        """DuckDB writes each query's rows as CSV (NULL unquoted, '' quoted, doubles that
        round-trip); a second thread COPYs the file into PostgreSQL while DuckDB parses the next
        chunk. One COPY at a time: the connection holds one transaction."""
        pending: list[Future] = []

        def load(target, query, params):
            path = os.path.join(tmp, f"{len(pending)}.csv")
            (rows,) = _execute(
                parser, f"COPY ({query}) TO '{path}' (FORMAT csv, HEADER false)", params
            ).fetchone()
            if pending:
                pending[-1].result()  # the previous COPY: its error, if any, stops the load here
            pending.append(copier.submit(self._copy_file, target, path))
            return rows

        with (
            tempfile.TemporaryDirectory(prefix="sparkify-copy-") as tmp,
            ThreadPoolExecutor(1, thread_name_prefix="sparkify-copy") as copier,
        ):
            yield load
            if pending:
                pending[-1].result()

    def _copy_file(self, table: str, path: str) -> None:
        columns = [c.name for c in sql_files.columns(table)]
        with open(path, encoding="utf-8") as stream:
            self.copy_csv(table, columns, stream)
        os.remove(path)


class Warehouse(ConfigurableResource):
    """The warehouse the star schema lives in. `engine` picks DuckDB, PostgreSQL or Redshift."""

    engine: str = Field(default="duckdb", description="duckdb, postgres or redshift")
    duckdb_path: str = Field(default=str(DEFAULT_DUCKDB_PATH), description="DuckDB database file")
    host: str = "127.0.0.1"
    port: int = 5432
    database: str = "sparkify"
    user: str = "sparkify"
    password: str | None = Field(default=None, description="Never logged; pass via EnvVar")
    sslmode: str = Field(default="prefer", description="psycopg2 sslmode (Redshift: require)")
    iam_role_arn: str | None = Field(default=None, description="Redshift: the role COPY assumes")
    aws_region: str | None = Field(default=None, description="Redshift: the lake bucket's region")

    @property
    def location(self) -> str:
        """Where the data is, for people: never includes a secret."""
        if self.engine == "duckdb":
            return str(Path(self.duckdb_path).resolve())
        return f"{self.engine}://{self.user}@{self.host}:{self.port}/{self.database}"

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A connection holding one transaction: committed on success, rolled back on error."""
        with self._connect() as session:
            try:
                yield session
                session.con.commit()
            except BaseException:
                session.con.rollback()
                raise

    @contextlib.contextmanager
    def _connect(self) -> Iterator[Session]:
        if self.engine == "duckdb":
            con = _duckdb_connect(self.duckdb_path)
            con.begin()
            with contextlib.closing(con):
                yield DuckDBSession(con)
        elif self.engine == "postgres":
            con = self._reach(
                psycopg2.connect,
                host=self.host,
                port=self.port,
                dbname=self.database,
                user=self.user,
                password=self.password,
                sslmode=self.sslmode,
                connect_timeout=10,
                application_name="sparkify_assets",
            )
            with contextlib.closing(con):
                yield PostgresSession(con)
        elif self.engine == "redshift":
            from sparkify_assets.resources.redshift import RedshiftSession

            client = RedshiftClientResource(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password,
                database=self.database,
                sslmode=self.sslmode,
                connect_timeout=10,
            ).get_client()
            # dagster-aws's client opens a connection per query: hold one of its connections
            # for the asset's whole transaction instead (its _get_conn closes it on exit).
            connection = client._get_conn()
            con = self._reach(connection.__enter__)
            try:
                yield RedshiftSession(con, self.iam_role_arn or "", self.aws_region or "")
            finally:
                connection.__exit__(None, None, None)
        else:
            raise ValueError(f"warehouse engine {self.engine!r} is not one of {ENGINES}")

    def _reach(self, connect, **kwargs):
        """Connect, or fail with one message saying where, as whom and why: never the password."""
        try:
            return connect(**kwargs)
        except psycopg2.OperationalError as exc:
            reason = " ".join(line.strip() for line in str(exc).splitlines()) or repr(exc)
            if self.password:
                reason = reason.replace(self.password, "***")
            raise WarehouseUnavailable(
                f"cannot connect to the {self.engine} warehouse at {self.location}: {reason} "
                "(check SPARKIFY_DB_HOST, _PORT, _NAME, _USER, _PASSWORD)"
            ) from None


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached or refuses the login."""


def _duckdb_connect(path: str, wait_seconds: float = 120.0) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, waiting while another process holds its write lock (a second run)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(path, config=DUCKDB_CONFIG)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
